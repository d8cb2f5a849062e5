//! The `latchkey import` file parser on hostile text: rows, or a one-line
//! error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The command reads the file as UTF-8 text; other bytes never get here.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let roles = ["admin".to_string(), "editor".to_string()];
    match latchkey::import::parse(text, &roles) {
        Ok(rows) => {
            for row in rows {
                assert!(!row.username.is_empty());
                assert!(latchkey::password::is_supported_hash(&row.password_hash));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
    }
});
