//! Tokenised datasets cached on disk, so that the runs of a study tokenise each (model, task, subsample)
//! once. An entry is named by a hash of exactly what tokenising depends on: the tokenizer's files, the
//! maximum length, the label set and every example's texts and label. Entries are written atomically;
//! an unreadable one is ignored and rewritten.

use crate::data::Example;
use crate::dataset::{Dataset, Labels};
use sha2::{Digest, Sha256};
use stabletune_model::tokenizer::Encoded;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"STTOK\x00\x00\x01";

/// The cache file for these examples under `dir`.
pub fn entry(
    dir: &Path,
    model_dir: &Path,
    max_len: usize,
    labels: Option<&[String]>,
    examples: &[Example],
) -> PathBuf {
    let mut h = Sha256::new();
    for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json"] {
        if let Ok(bytes) = std::fs::read(model_dir.join(f)) {
            h.update(f.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
    }
    h.update((max_len as u64).to_le_bytes());
    for l in labels.unwrap_or(&[]) {
        h.update(l.as_bytes());
        h.update([0xff]);
    }
    h.update([labels.is_some() as u8]);
    for e in examples {
        for field in [Some(&e.text_a), e.text_b.as_ref(), e.label.as_ref()] {
            match field {
                Some(text) => {
                    h.update((text.len() as u64).to_le_bytes());
                    h.update(text.as_bytes());
                }
                None => h.update(u64::MAX.to_le_bytes()),
            }
        }
    }
    let hex: String = h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
    dir.join(format!("tokens-{hex}.bin"))
}

pub fn save(path: &Path, data: &Dataset) -> std::io::Result<()> {
    let mut out =
        Vec::with_capacity(16 + data.inputs.iter().map(|e| 8 * e.input_ids.len() + 4).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    for e in &data.inputs {
        out.extend_from_slice(&(e.input_ids.len() as u32).to_le_bytes());
        for v in e.input_ids.iter().chain(&e.token_type_ids) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    match &data.labels {
        Labels::Classes(y) => {
            out.push(0);
            y.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        }
        Labels::Scores(y) => {
            out.push(1);
            y.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    stabletune_model::checkpoint::write_atomic(path, &out).map_err(std::io::Error::other)
}

/// The cached dataset, or `None` when there is none or it cannot be read.
pub fn load(path: &Path) -> Option<Dataset> {
    let bytes = std::fs::read(path).ok()?;
    let mut r = Reader { bytes: &bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return None;
    }
    let n = r.u64()? as usize;
    let mut inputs = Vec::with_capacity(n.min(1 << 24));
    for _ in 0..n {
        let len = r.u32()? as usize;
        let input_ids = (0..len).map(|_| r.u32()).collect::<Option<Vec<_>>>()?;
        let token_type_ids = (0..len).map(|_| r.u32()).collect::<Option<Vec<_>>>()?;
        inputs.push(Encoded { input_ids, token_type_ids });
    }
    let labels = match r.take(1)?[0] {
        0 => Labels::Classes(
            (0..n)
                .map(|_| r.take(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))))
                .collect::<Option<_>>()?,
        ),
        1 => Labels::Scores(
            (0..n)
                .map(|_| r.take(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    };
    (r.at == bytes.len()).then_some(Dataset { inputs, labels })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let data = Dataset {
            inputs: vec![
                Encoded { input_ids: vec![101, 7, 102], token_type_ids: vec![0, 0, 0] },
                Encoded { input_ids: vec![101, 102, 9, 102], token_type_ids: vec![0, 0, 1, 1] },
            ],
            labels: Labels::Classes(vec![1, 0]),
        };
        let path = dir.path().join("t.bin");
        save(&path, &data).unwrap();
        assert_eq!(load(&path), Some(data.clone()));
        let scores = Dataset { labels: Labels::Scores(vec![0.5, 4.25]), ..data };
        save(&path, &scores).unwrap();
        assert_eq!(load(&path), Some(scores));
        // A torn file is not a dataset.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(load(&path), None);
        // Keys follow the examples and the length.
        let ex = |t: &str| Example { text_a: t.into(), text_b: None, label: Some("1".into()) };
        let m = Path::new("/no/model");
        let a = entry(dir.path(), m, 128, None, &[ex("a b")]);
        assert_eq!(a, entry(dir.path(), m, 128, None, &[ex("a b")]));
        assert_ne!(a, entry(dir.path(), m, 64, None, &[ex("a b")]));
        assert_ne!(a, entry(dir.path(), m, 128, None, &[ex("a c")]));
        assert_ne!(
            entry(dir.path(), m, 128, None, &[ex("ab"), ex("")]),
            entry(dir.path(), m, 128, None, &[ex("a"), ex("b")])
        );
    }
}
