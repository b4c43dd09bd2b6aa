//! Address words that say nothing about a place ("rue", "quartier", "pres
//! du", "bp"): dropped before address tokens are compared or indexed.

/// Address words that say nothing about a place, sorted.
pub const ADDRESS_STOPWORDS: &[&str] = &[
    "a",
    "au",
    "aux",
    "av",
    "avenue",
    "bd",
    "boulevard",
    "bp",
    "cite",
    "d",
    "de",
    "derriere",
    "des",
    "du",
    "en",
    "et",
    "face",
    "l",
    "la",
    "le",
    "les",
    "lot",
    "pres",
    "qt",
    "qtier",
    "quartier",
    "rue",
    "st",
    "street",
    "x",
];

/// Whether a folded address token is a stop word.
pub fn is_address_stopword(token: &str) -> bool {
    ADDRESS_STOPWORDS.binary_search(&token).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_and_found() {
        assert!(ADDRESS_STOPWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_address_stopword("quartier"));
        assert!(is_address_stopword("bp"));
        assert!(!is_address_stopword("cocody"));
    }
}
