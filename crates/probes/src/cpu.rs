//! CPU time of a kind of work done inside the async probes: [`CpuMeter`] adds up the CPU time
//! the polling thread spends in each poll of a future or stream it wraps ([`CpuTimed`]) and
//! in each closure it runs ([`CpuMeter::time`]). The prober meters its TLS client work this
//! way ([`crate::Stats::tls_cpu`]): the rustls and OpenSSL handshakes (certificate-verifier
//! signature checks included) and the TLS records of the requests over them, the raw
//! ClientHello exchanges, and the evaluation of the certificates received.
//!
//! The clock is the thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`, nanoseconds): the
//! work of a poll is synchronous, so the clock counts it whole, and nothing of the other
//! tasks the thread runs between polls, nor of time the thread spends preempted. The system
//! calls a poll makes (the socket reads and writes under the TLS) count with it. Each poll
//! costs two reads of the clock (a system call each, about 0.4 µs of CPU on the development
//! machine).
//!
//! The scan's CPU breakdown by stage (`--stats`) reads the same clocks: [`thread_cpu`] in its
//! target reader and Parquet writer threads, [`process_cpu`] for the total.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// CPU time the calling thread has used so far (user + system).
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time the whole process has used so far (user + system, all threads).
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The time on a clock of `clock_gettime(2)`.
#[allow(unsafe_code)]
fn clock(id: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes the timespec we pass, which lives for the call.
    let rc = unsafe { libc::clock_gettime(id, &mut now) };
    if rc != 0 {
        // Only for a clock the kernel lacks; every Linux has these.
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// A sum of CPU time over threads, added to by the work it times.
#[derive(Debug, Default)]
pub struct CpuMeter(AtomicU64);

impl CpuMeter {
    /// Runs `work` and adds the CPU time the thread spent in it.
    pub fn time<T>(&self, work: impl FnOnce() -> T) -> T {
        let start = thread_cpu();
        let out = work();
        let spent = thread_cpu().saturating_sub(start);
        self.0.fetch_add(
            u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        out
    }

    /// `inner` (a future, or a stream), every poll of it timed by this meter.
    pub fn timed<T>(self: &Arc<Self>, inner: T) -> CpuTimed<T> {
        CpuTimed {
            inner,
            meter: self.clone(),
        }
    }

    /// The time added so far.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

pin_project_lite::pin_project! {
    /// A future or an async stream whose polls add their CPU time to a [`CpuMeter`].
    pub struct CpuTimed<T> {
        #[pin]
        inner: T,
        meter: Arc<CpuMeter>,
    }
}

impl<T: Future> Future for CpuTimed<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.project();
        let inner = this.inner;
        this.meter.time(|| inner.poll(cx))
    }
}

impl<T: AsyncRead> AsyncRead for CpuTimed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let inner = this.inner;
        this.meter.time(|| inner.poll_read(cx, buf))
    }
}

impl<T: AsyncWrite> AsyncWrite for CpuTimed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.project();
        let inner = this.inner;
        this.meter.time(|| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.project();
        let inner = this.inner;
        this.meter.time(|| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let inner = this.inner;
        this.meter.time(|| inner.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let inner = this.inner;
        this.meter.time(|| inner.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(cpu: Duration) {
        let t0 = thread_cpu();
        let mut x = 0u64;
        while thread_cpu().saturating_sub(t0) < cpu {
            for _ in 0..1000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
        }
    }

    #[test]
    fn counts_the_work_it_times_and_not_the_rest() {
        let meter = CpuMeter::default();
        spin(Duration::from_millis(20));
        meter.time(|| spin(Duration::from_millis(10)));
        let total = meter.total();
        assert!(
            total >= Duration::from_millis(10) && total < Duration::from_millis(20),
            "{total:?}"
        );
    }

    #[test]
    fn process_clock_counts_every_thread() {
        let before = process_cpu();
        std::thread::spawn(|| spin(Duration::from_millis(20)))
            .join()
            .unwrap();
        spin(Duration::from_millis(10));
        let spent = process_cpu().saturating_sub(before);
        assert!(spent >= Duration::from_millis(30), "{spent:?}");
    }

    #[tokio::test]
    async fn counts_the_polls_of_a_timed_future() {
        let meter = Arc::new(CpuMeter::default());
        meter
            .timed(async {
                spin(Duration::from_millis(5));
                tokio::task::yield_now().await;
                spin(Duration::from_millis(5));
            })
            .await;
        assert!(
            meter.total() >= Duration::from_millis(10),
            "{:?}",
            meter.total()
        );
    }
}
