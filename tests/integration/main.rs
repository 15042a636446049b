//! Integration tests, one binary, modules named by behaviour.

mod cli;
mod engine;
mod golden;
mod hostile;
mod plot;
mod sweep;
