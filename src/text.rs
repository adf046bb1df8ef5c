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
}
