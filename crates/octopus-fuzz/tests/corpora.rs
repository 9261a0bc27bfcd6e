//! The committed fuzz corpora (`fuzz/corpus/<target>/`), and the crashes fuzzing found and that
//! were fixed (`fuzz/regressions/<target>/`), replayed through the fuzz targets as ordinary
//! tests: every input the fuzzers kept must still pass the targets' checks.

use std::path::PathBuf;

fn inputs(folder: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(folder)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_passes_its_target() {
    for (target, run) in octopus_fuzz::TARGETS {
        let corpus = inputs("corpus", target);
        assert!(
            corpus.len() >= 10,
            "the corpus of {target} has {} inputs (fuzz/corpus/{target})",
            corpus.len()
        );
        for (path, data) in corpus.iter().chain(&inputs("regressions", target)) {
            let outcome = std::panic::catch_unwind(|| run(data));
            assert!(outcome.is_ok(), "{target} failed on {}", path.display());
        }
    }
}
