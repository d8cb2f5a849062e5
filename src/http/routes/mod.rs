//! Handlers, by area.

pub mod account;
pub mod admin;
pub mod docs;
pub mod meta;
pub mod sessions;
pub mod standards;
pub mod tokens;
pub mod users;
