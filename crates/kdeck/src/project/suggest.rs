//! "Did you mean …?" for names typed by people: task names, keys, flavors.

/// The candidate closest to `word` by edit distance, if it is close enough to be
/// a likely typo (about one edit in three characters) rather than another word.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_len = word.chars().count();
    candidates
        .into_iter()
        .map(|candidate| (distance(word, candidate), candidate))
        .filter(|(d, candidate)| *candidate != word && d * 3 <= word_len.max(candidate.chars().count()) + 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// " (did you mean `x`?)" for the nearest candidate, or nothing: appended to messages.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default()
}

/// Levenshtein distance over characters, ignoring ASCII case.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().map(|c| c.to_ascii_lowercase()).enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("Script", "script"), 0);
    }

    #[test]
    fn nearest_suggests_only_likely_typos() {
        let keys = ["description", "script", "command", "component", "pre"];
        assert_eq!(nearest("scirpt", keys), Some("script"));
        assert_eq!(nearest("comand", keys), Some("command"));
        assert_eq!(nearest("prre", keys), Some("pre"));
        assert_eq!(nearest("kubernetes", keys), None);
        assert_eq!(nearest("script", keys), None, "an exact match is not a suggestion");
        assert_eq!(nearest("Script", keys), Some("script"));
        assert_eq!(did_you_mean("migrte", ["migrate", "seed"]), " (did you mean `migrate`?)");
        assert_eq!(did_you_mean("zzz", ["migrate"]), "");
    }
}
