//! Text to model inputs with Hugging Face's `tokenizers`: single sentences and pairs, special tokens as
//! the model's post-processor adds them (`[CLS] a [SEP] b [SEP]`, RoBERTa's `<s> a </s></s> b </s>`),
//! longest-first truncation to `max_seq_length`, no padding (batches pad to their longest member).

use crate::error::{ModelError, Result};
use std::path::Path;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// The default `max_seq_length` of the papers' recipes.
pub const DEFAULT_MAX_SEQ_LENGTH: usize = 128;

/// One encoded example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
}

pub struct TextEncoder {
    tokenizer: Tokenizer,
    max_len: usize,
}

fn tok_err(path: &Path) -> impl Fn(tokenizers::Error) -> ModelError + '_ {
    move |e| ModelError::Tokenizer(format!("{}: {e}", path.display()))
}

impl TextEncoder {
    /// Loads `tokenizer.json` from a model folder, or builds a BERT WordPiece tokenizer from `vocab.txt`
    /// (lower-casing as `tokenizer_config.json`'s `do_lower_case` says, default true). Padding and
    /// truncation configured inside `tokenizer.json` are replaced by ours.
    pub fn from_dir(dir: &Path, max_len: usize) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        let vocab = dir.join("vocab.txt");
        let tokenizer = if json.exists() {
            Tokenizer::from_file(&json).map_err(tok_err(&json))?
        } else if vocab.exists() {
            wordpiece_from_vocab(&vocab, lower_case(dir))?
        } else {
            return Err(ModelError::Tokenizer(format!(
                "{}: neither tokenizer.json nor vocab.txt found",
                dir.display()
            )));
        };
        Self::new(tokenizer, max_len, dir)
    }

    /// Builds the WordPiece tokenizer from `vocab.txt` even when `tokenizer.json` exists.
    pub fn from_vocab(dir: &Path, max_len: usize) -> Result<Self> {
        let tokenizer = wordpiece_from_vocab(&dir.join("vocab.txt"), lower_case(dir))?;
        Self::new(tokenizer, max_len, dir)
    }

    fn new(mut tokenizer: Tokenizer, max_len: usize, dir: &Path) -> Result<Self> {
        if max_len < 4 {
            return Err(ModelError::Input(format!(
                "max_seq_length {max_len} is too short for special tokens"
            )));
        }
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(tok_err(dir))?;
        Ok(TextEncoder { tokenizer, max_len })
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Encodes a sentence or a sentence pair.
    pub fn encode(&self, text_a: &str, text_b: Option<&str>) -> Result<Encoded> {
        let enc = match text_b {
            Some(b) => self.tokenizer.encode((text_a, b), true),
            None => self.tokenizer.encode(text_a, true),
        }
        .map_err(|e| ModelError::Tokenizer(format!("cannot encode {text_a:?}: {e}")))?;
        Ok(Encoded { input_ids: enc.get_ids().to_vec(), token_type_ids: enc.get_type_ids().to_vec() })
    }
}

impl TextEncoder {
    /// The ids of `text` without special tokens and without truncation: running text for a language
    /// model, split into blocks by the caller.
    pub fn ids_without_specials(&self, text: &str) -> Result<Vec<u32>> {
        let mut plain = self.tokenizer.clone();
        plain
            .with_truncation(None)
            .map_err(|e| ModelError::Tokenizer(format!("cannot switch truncation off: {e}")))?;
        let enc = plain.encode(text, false).map_err(|e| {
            ModelError::Tokenizer(format!("cannot encode a text of {} bytes: {e}", text.len()))
        })?;
        Ok(enc.get_ids().to_vec())
    }

    /// The id of a token of the vocabulary (`[MASK]`, `<mask>`, ...), if it has one.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }
}

fn lower_case(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
        .unwrap_or(true)
}

fn wordpiece_from_vocab(vocab: &Path, lowercase: bool) -> Result<Tokenizer> {
    let path = vocab
        .to_str()
        .ok_or_else(|| ModelError::Tokenizer(format!("{}: path is not UTF-8", vocab.display())))?;
    let model = WordPiece::from_file(path)
        .unk_token("[UNK]".into())
        .build()
        .map_err(|e| ModelError::Tokenizer(format!("{}: cannot build WordPiece: {e}", vocab.display())))?;
    let id = |t: &str| {
        tokenizers::Model::token_to_id(&model, t).ok_or_else(|| {
            ModelError::Tokenizer(format!("{}: no {t} token in the vocabulary", vocab.display()))
        })
    };
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    let mut tk = Tokenizer::new(model);
    tk.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)));
    tk.with_pre_tokenizer(Some(BertPreTokenizer));
    tk.with_post_processor(Some(BertProcessing::new(("[SEP]".into(), sep), ("[CLS]".into(), cls))));
    Ok(tk)
}
