//! Integration tests, one binary, modules named by behaviour.

mod cli;
mod engine;
mod fuzz_bodies;
mod golden;
mod hostile;
mod outputs;
mod pipeline;
mod plot;
mod server;
mod sweep;
