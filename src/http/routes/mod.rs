//! Handlers, by area.

pub mod meta;
pub mod sessions;
pub mod tokens;
pub mod users;
