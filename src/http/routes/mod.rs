//! Handlers, by area.

pub mod account;
pub mod admin;
pub mod meta;
pub mod sessions;
pub mod tokens;
pub mod users;
