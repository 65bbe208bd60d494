//! Reading the daemon's `/metrics` text, for tests and benchmarks.

/// Upper bounds of the buckets holding the `wanted` quantiles of histogram `name` (`None` when the
/// text has no such histogram or it saw nothing).
pub fn histogram_quantiles(metrics: &str, name: &str, wanted: &[f64]) -> Vec<Option<f64>> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    wanted
        .iter()
        .map(|q| {
            buckets
                .iter()
                .find(|(_, c)| total > 0.0 && *c >= q * total)
                .map(|(le, _)| *le)
        })
        .collect()
}
