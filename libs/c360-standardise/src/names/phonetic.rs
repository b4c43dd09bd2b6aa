//! The phonetic key of a name token.

use std::borrow::Cow;

/// Phonetic key of ONE folded token (lowercase ASCII letters/digits), tuned for French
/// and West-African (Akan, Mande, Wolof, Fula) spellings.
///
/// Steps:
/// 1. Silent ending, as in French (only one of these, first match wins): a final `es`
///    (4+ letters: `jacques`→`jacqu`); a final `s`/`t`/`x`/`d` after a vowel (4+
///    letters: `mohamed`→`mohame`); a final `e` (3+ letters: `toure`→`tour`,
///    `ndiaye`→`ndiay`).
/// 2. Left-to-right rewriting:
///    `ou`/`oo`/`ow`/`w`→`u`, `y`→`i`, `ei`/`ey`→`ai`, `eau`→`o`, `au`(+consonant)→`o`,
///    `ph`→`f`, `ch`/`sh`/`sch`→`x` (the "sh" sound), `ck`/`cq`/`qu`/`q`→`k`,
///    `c`→`s` before `e`/`i`/`y` else `k`, `gu`+`e`/`i`/`y`→`g`, `dj`→`j`, `x`→`ks`,
///    `z`→`s`, `h` otherwise silent (`th`→`t`, `kh`→`k`, leading `h` dropped).
/// 3. Repeated codes collapse (`tt`→`t`, `ss`→`s`, also across rules).
///
/// Vowels are kept (a vowel skeleton), so `konan`/`kone`/`konate` stay distinct.
/// Non-alphanumeric input bytes are ignored and uppercase ASCII is lowercased, so the
/// function is total; it never panics.
pub fn phonetic(token: &str) -> String {
    let cleaned = clean_token(token);
    let word = strip_silent_ending(&cleaned);
    let mut coder = Coder::with_capacity(word.len() + 2);
    let mut position = 0;
    while position < word.len() {
        position += encode_at(word, position, &mut coder);
    }
    coder.out
}

fn clean_token(token: &str) -> Cow<'_, [u8]> {
    let bytes = token.as_bytes();
    if bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(
        bytes
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect(),
    )
}

fn is_vowel(byte: u8) -> bool {
    matches!(byte, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

fn is_front_vowel(byte: Option<u8>) -> bool {
    matches!(byte, Some(b'e' | b'i' | b'y'))
}

fn strip_silent_ending(word: &[u8]) -> &[u8] {
    let n = word.len();
    if n >= 4 && word.ends_with(b"es") {
        return &word[..n - 2];
    }
    if n >= 4 && matches!(word[n - 1], b's' | b't' | b'x' | b'd') && is_vowel(word[n - 2]) {
        return &word[..n - 1];
    }
    if n >= 3 && word[n - 1] == b'e' {
        return &word[..n - 1];
    }
    word
}

/// Output buffer that collapses consecutive identical codes.
struct Coder {
    out: String,
}

impl Coder {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
        }
    }

    fn push(&mut self, code: u8) {
        if self.out.as_bytes().last() != Some(&code) {
            self.out.push(char::from(code));
        }
    }
}

/// Encodes the letter at `position`, returns how many input bytes were consumed.
fn encode_at(word: &[u8], position: usize, coder: &mut Coder) -> usize {
    let next = word.get(position + 1).copied();
    let after = word.get(position + 2).copied();
    match word[position] {
        b'a' if next == Some(b'u') && !after.is_some_and(is_vowel) => {
            coder.push(b'o');
            2
        }
        b'e' if next == Some(b'a') && after == Some(b'u') => {
            coder.push(b'o');
            3
        }
        b'e' if matches!(next, Some(b'i' | b'y')) => {
            coder.push(b'a');
            coder.push(b'i');
            2
        }
        b'o' if matches!(next, Some(b'u' | b'o' | b'w')) => {
            coder.push(b'u');
            2
        }
        b'w' => {
            coder.push(b'u');
            1
        }
        b'y' => {
            coder.push(b'i');
            1
        }
        b'h' => 1,
        b'c' if next == Some(b'h') => {
            coder.push(b'x');
            2
        }
        b'c' if next == Some(b'q') && after == Some(b'u') => {
            coder.push(b'k');
            3
        }
        b'c' if matches!(next, Some(b'k' | b'q')) => {
            coder.push(b'k');
            2
        }
        b'c' if is_front_vowel(next) => {
            coder.push(b's');
            1
        }
        b'c' | b'k' => {
            coder.push(b'k');
            1
        }
        b's' if next == Some(b'h') => {
            coder.push(b'x');
            2
        }
        b's' if next == Some(b'c') && after == Some(b'h') => {
            coder.push(b'x');
            3
        }
        b'q' if next == Some(b'u') => {
            coder.push(b'k');
            2
        }
        b'q' => {
            coder.push(b'k');
            1
        }
        b'g' if next == Some(b'u') && is_front_vowel(after) => {
            coder.push(b'g');
            2
        }
        b'd' if next == Some(b'j') => {
            coder.push(b'j');
            2
        }
        b'p' if next == Some(b'h') => {
            coder.push(b'f');
            2
        }
        b'x' => {
            coder.push(b'k');
            coder.push(b's');
            1
        }
        b'z' => {
            coder.push(b's');
            1
        }
        other => {
            coder.push(other);
            1
        }
    }
}
