//! What the whole-run tests share: a slice of the real SST-2 from `../shared/assets`.

use stabletune_train::{locations, Task};

/// The first `train` training and `dev` dev rows of SST-2, so a run takes seconds.
pub fn sst2_head(train: usize, dev: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = locations::task_dir(Task::Sst2, None);
    for (file, rows) in [("train.tsv", train), ("dev.tsv", dev)] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let head: String = text.lines().take(rows + 1).map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(file), head).unwrap();
    }
    dir
}
