#![no_main]
//! libFuzzer target: `octopus_fuzz::paykassma_postback` (what it checks is written there).

#[global_allocator]
static ALLOCATOR: octopus_fuzz::Bounded = octopus_fuzz::Bounded;

libfuzzer_sys::fuzz_target!(|data: &[u8]| octopus_fuzz::paykassma_postback(data));
