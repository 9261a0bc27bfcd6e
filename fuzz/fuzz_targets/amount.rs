#![no_main]
//! libFuzzer target: `octopus_fuzz::amount` (what it checks is written there).

#[global_allocator]
static ALLOCATOR: octopus_fuzz::Bounded = octopus_fuzz::Bounded;

libfuzzer_sys::fuzz_target!(|data: &[u8]| octopus_fuzz::amount(data));
