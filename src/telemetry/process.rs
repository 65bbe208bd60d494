//! The standard `process_*` metrics (CPU seconds, resident and virtual memory, open and maximum
//! file descriptors, threads, start time), read from `/proc` at each scrape, under the names
//! every Prometheus client uses so stock dashboards and alerts work unchanged.

use prometheus_client::registry::Registry;

/// Adds the process collector to `registry` (on Linux; elsewhere there is no `/proc` to read).
pub fn register(registry: &mut Registry) {
    #[cfg(target_os = "linux")]
    registry.register_collector(Box::new(linux::ProcessCollector));
    #[cfg(not(target_os = "linux"))]
    let _ = registry;
}

#[cfg(target_os = "linux")]
mod linux {
    use procfs::process::{LimitValue, Process};
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;

    /// Reads this process's figures when encoded.
    #[derive(Debug)]
    pub(super) struct ProcessCollector;

    /// What one scrape reads; a figure `/proc` would not give is left out, not faked.
    #[derive(Debug, Default)]
    struct Reading {
        cpu_seconds: Option<f64>,
        resident_bytes: Option<i64>,
        virtual_bytes: Option<i64>,
        threads: Option<i64>,
        start_time_seconds: Option<f64>,
        open_fds: Option<i64>,
        max_fds: Option<i64>,
    }

    fn read() -> Reading {
        let Ok(me) = Process::myself() else {
            return Reading::default();
        };
        let mut reading = Reading::default();
        if let Ok(stat) = me.stat() {
            let ticks = procfs::ticks_per_second() as f64;
            reading.cpu_seconds = Some((stat.utime + stat.stime) as f64 / ticks);
            reading.resident_bytes =
                i64::try_from(stat.rss.saturating_mul(procfs::page_size())).ok();
            reading.virtual_bytes = i64::try_from(stat.vsize).ok();
            reading.threads = Some(stat.num_threads);
            reading.start_time_seconds = procfs::boot_time_secs()
                .ok()
                .map(|boot| boot as f64 + stat.starttime as f64 / ticks);
        }
        reading.open_fds = me.fd_count().ok().and_then(|n| i64::try_from(n).ok());
        reading.max_fds =
            me.limits()
                .ok()
                .and_then(|limits| match limits.max_open_files.soft_limit {
                    LimitValue::Value(n) => i64::try_from(n).ok(),
                    LimitValue::Unlimited => None,
                });
        reading
    }

    fn gauge<T>(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: Option<T>,
    ) -> Result<(), std::fmt::Error>
    where
        ConstGauge<T>: EncodeMetric,
    {
        let Some(value) = value else {
            return Ok(());
        };
        let gauge = ConstGauge::new(value);
        let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
        gauge.encode(metric)
    }

    impl Collector for ProcessCollector {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            let reading = read();
            if let Some(seconds) = reading.cpu_seconds {
                let counter = ConstCounter::new(seconds);
                let metric = encoder.encode_descriptor(
                    "process_cpu_seconds",
                    "Total user and system CPU time spent in seconds",
                    None,
                    counter.metric_type(),
                )?;
                counter.encode(metric)?;
            }
            gauge(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                reading.resident_bytes,
            )?;
            gauge(
                &mut encoder,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                reading.virtual_bytes,
            )?;
            gauge(
                &mut encoder,
                "process_threads",
                "Number of OS threads in the process",
                reading.threads,
            )?;
            gauge(
                &mut encoder,
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                reading.start_time_seconds,
            )?;
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors",
                reading.open_fds,
            )?;
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors",
                reading.max_fds,
            )
        }
    }
}
