//! Text for people.

/// The name a flag's value goes by (`--net infogan`), for messages and file names: clap's, so
/// it is written once, in the enum.
pub fn value_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// A duration for people: 42s, 3m07s, 5h12m, 7d02h.
pub fn duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d{:02}h", s / 86400, (s / 3600) % 24),
    }
}

/// The candidate closest to `word` (case-insensitive, `_` read as `-`), where it is close
/// enough to be what was meant: a similarity of 0.8 or more by Jaro–Winkler, which weighs a
/// shared start as people's typos keep it.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace('_', "-");
    let w = norm(word);
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&w, &norm(c)), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// " (did you mean X?)" when a candidate is close to `word`, else nothing.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates).map_or(String::new(), |c| format!(" (did you mean {c}?)"))
}

/// `n` and the noun, singular for one: "1 step", "4 steps".
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A measured value at the precision people read: four significant digits, scientific below
/// 1e-3 and from 1e6 (a loss of 1035.26112 prints 1035, an MSE of 0.0183832 0.01838).
pub fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_at_a_glance() {
        let d = super::duration;
        assert_eq!(
            [d(42.4), d(187.0), d(18_720.0), d(612_000.0)],
            ["42s", "3m07s", "5h12m", "7d02h"]
        );
    }

    #[test]
    fn a_typo_finds_the_name_and_a_stranger_finds_none() {
        let names = ["fashion-mnist", "mnist", "cifar10", "shapes"];
        assert_eq!(
            super::closest("fashion_mnist", &names),
            Some("fashion-mnist")
        );
        assert_eq!(
            super::closest("Fashion-MNIST", &names),
            Some("fashion-mnist")
        );
        assert_eq!(super::closest("shape", &names), Some("shapes"));
        assert_eq!(super::closest("cifar-10", &names), Some("cifar10"));
        assert_eq!(super::closest("imagenet", &names), None);
        assert_eq!(super::did_you_mean("zzz", &names), "");
    }

    #[test]
    fn counts_and_numbers_read_as_people_write_them() {
        assert_eq!(
            [super::count(1, "step"), super::count(4, "step")],
            ["1 step", "4 steps"]
        );
        let n = super::number;
        assert_eq!(
            [
                n(1035.2611),
                n(0.018383),
                n(0.996),
                n(2.6533),
                n(0.0),
                n(4.2e-5),
                n(f64::NAN)
            ],
            ["1035", "0.01838", "0.9960", "2.653", "0", "4.200e-5", "NaN"]
        );
    }
}
