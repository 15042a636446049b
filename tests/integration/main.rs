//! Integration tests, one binary, modules named by behaviour.

mod cli;
mod engine;
mod golden;
mod plot;
mod sweep;
