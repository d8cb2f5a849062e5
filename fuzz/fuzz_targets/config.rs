//! The settings parser on a hostile `latchkey.toml` and environment:
//! settings that pass validation, or a one-line error, never a panic.

#![no_main]

use latchkey::config::{Flags, SETTING_NAMES, Settings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The file's text, then environment entries separated by 0xff: each
    // entry's first byte picks the setting, the rest is its value.
    let mut parts = data.split(|b| *b == 0xff);
    let toml = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let env: Vec<(String, String)> = parts
        .filter_map(|entry| {
            let (&pick, value) = entry.split_first()?;
            let name = SETTING_NAMES[usize::from(pick) % SETTING_NAMES.len()];
            Some((name.to_string(), String::from_utf8_lossy(value).into_owned()))
        })
        .collect();
    match Settings::from_sources(&toml, "latchkey.toml", env.into_iter(), &Flags::default()) {
        Ok(settings) => {
            assert!(settings.validate().is_ok());
            let _ = (
                settings.access_ttl_secs(),
                settings.refresh_ttl_secs(),
                settings.session_max_secs(),
            );
            let _ = format!("{settings:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
    }
});
