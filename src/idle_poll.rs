//! Idle polling: for a short window after the server last did something, its CPUs are kept
//! out of their idle state by one lowest-priority (SCHED_IDLE) spinning thread per CPU.
//!
//! Why: on a virtual machine, a CPU that goes idle halts, and waking it again (the next
//! request's packet, the end of an fdatasync) costs tens of microseconds (measured here: get
//! p50 102 -> 45 µs and the bare fdatasync 175 -> 132 µs with the CPU kept busy). The guest
//! kernel's haltpoll driver exists for this but is often off (as on this machine:
//! `haltpoll.guest_halt_poll_ns=0`); Seastar-based servers poll for the same reason.
//! SCHED_IDLE matters: any ordinary thread that wakes on that CPU preempts the spinner at
//! once, so the spinning only fills time the CPU would have spent halted.
//!
//! The server's runtime also polls for the window ([`poll_runtime`]): one task that yields
//! in a loop, so that an idle worker checks its sockets (a non-blocking `epoll_wait`) instead
//! of sleeping in `epoll_wait`. A request that arrives then wakes no sleeping thread: the
//! client's send skips the wake-up interrupt, and the worker skips waking up (get-1x1 p50
//! 24-29 -> 18-19 µs, set-1x1 median 204 -> 189 µs, 4x100 throughput unchanged: a yielding
//! task runs only when the worker has nothing else to run). It runs at ordinary priority, so
//! every turn also yields the CPU (`sched_yield`) to any thread waiting for it, such as the log
//! writer woken at the end of its fdatasync. Standalone servers only: three ensemble members pinned to one
//! CPU (as `scripts/bench-ensemble` runs them) each polling at ordinary priority took turns
//! from each other and from the leader's work (set-1x1 p50 635 and 727 µs against 598 and 556
//! without, in alternating runs). Telling such contention apart from the server's own
//! SCHED_IDLE spinner, which also takes a polling turn now and then, was not reliable.
//!
//! Cost: after each burst of activity, up to the window (default 200 µs, zoo.cfg
//! `rzk.idlePollMicros`, 0 turns it off) of CPU time per CPU; none while the server is quiet.
//! It shows in the process's CPU time. Under a cgroup CPU quota (a container's CPU limit) that
//! time would be charged to the quota and throttle the server itself, so there it stays off.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The window ZooKeeper users get unless they set `rzk.idlePollMicros` (the guest haltpoll
/// driver's and Seastar's default).
pub const DEFAULT_MICROS: u64 = 200;

/// How long a spinner runs between yields. A SCHED_IDLE thread that is already running is not
/// displaced when the thread in front of it blocks, and under EEVDF one can be picked ahead of
/// a runnable server thread (seen: a worker woken at t waited 213 µs behind its own process's
/// spinner, the rest of the window). A yield lets the scheduler choose again, and a SCHED_IDLE
/// thread's virtual time runs ~340x faster than an ordinary thread's, so then any runnable
/// server thread comes first. Yielding on every turn costs more than it saves (measured:
/// get-1x1 p50 +10 µs), so the wait is bounded instead.
const YIELD_EVERY_NS: u64 = 20_000;

struct Poll {
    /// Set by [`touch`], cleared by the spinner that moves `until` forward for it.
    active: AtomicBool,
    /// When the spinners may sleep: nanoseconds after `base`, shared so that activity one
    /// spinner took keeps every spinner awake.
    until: AtomicU64,
    base: Instant,
    /// Some spinner is asleep and needs a wake-up at the next touch.
    parked: AtomicBool,
    /// The runtime's polling task is asleep and needs a wake-up at the next touch.
    task_parked: AtomicBool,
    task_wake: tokio::sync::Notify,
    lock: Mutex<()>,
    wake: Condvar,
    window: Duration,
}

static POLL: OnceLock<Poll> = OnceLock::new();

/// Notes activity: the CPUs stay awake for the window from now. Costs one relaxed load while
/// the spinners are running.
#[inline]
pub fn touch() {
    if let Some(p) = POLL.get() {
        p.touch();
    }
}

/// Starts one spinner per CPU this process may run on (Linux only; elsewhere, and with a zero
/// window, nothing is started). Later calls do nothing.
pub fn start(window: Duration) {
    if window.is_zero() || !cfg!(target_os = "linux") {
        return;
    }
    if let Some(file) = quota::limited() {
        tracing::info!(cgroup = %file.display(), "idle polling off: a CPU quota applies, and spinning would spend it");
        return;
    }
    let mut fresh = false;
    POLL.get_or_init(|| {
        fresh = true;
        Poll::new(window)
    });
    if !fresh {
        return;
    }
    for cpu in cpus() {
        let spawned = std::thread::Builder::new()
            .name(format!("rzk-idle-{cpu}"))
            .spawn(move || {
                // An ordinary-priority spinner would take CPU from the server's own threads.
                if sys::lowest_priority_on(cpu) {
                    if let Some(p) = POLL.get() {
                        p.spin();
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "idle polling: cannot start a spinner");
            return;
        }
    }
}

impl Poll {
    fn new(window: Duration) -> Poll {
        Poll {
            active: AtomicBool::new(false),
            until: AtomicU64::new(0),
            base: Instant::now(),
            parked: AtomicBool::new(false),
            task_parked: AtomicBool::new(false),
            task_wake: tokio::sync::Notify::new(),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            window,
        }
    }

    #[inline]
    fn touch(&self) {
        if self.active.load(Ordering::Relaxed) {
            return;
        }
        // Paired with the spinner's store of `parked` then load of `active` (both SeqCst):
        // either it sees this activity before sleeping, or this sees it parked and wakes it.
        self.active.store(true, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.parked.store(false, Ordering::SeqCst);
            self.wake.notify_all();
        }
        // The same pairing with the polling task (a wake-up sent before it waits is kept).
        if self.task_parked.swap(false, Ordering::SeqCst) {
            self.task_wake.notify_one();
        }
    }

    /// Whether the window is open at `now`, taking any new activity into it.
    fn awake(&self, now: u64) -> bool {
        if self.active.load(Ordering::Relaxed) {
            // `until` first: a poller that finds `active` cleared then sees the new end.
            self.until
                .fetch_max(now + self.window.as_nanos() as u64, Ordering::SeqCst);
            self.active.store(false, Ordering::SeqCst);
            return true;
        }
        now < self.until.load(Ordering::Relaxed)
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Spins while there was activity within the window, sleeps until the next touch
    /// otherwise.
    async fn poll_task(&self) {
        loop {
            if self.awake(self.now()) {
                std::thread::yield_now();
                // Back in the scheduler's queue behind every other task; an idle worker
                // checks its sockets before it runs this again.
                tokio::task::yield_now().await;
                continue;
            }
            self.task_parked.store(true, Ordering::SeqCst);
            if self.active.load(Ordering::SeqCst) {
                self.task_parked.store(false, Ordering::SeqCst);
                continue;
            }
            self.task_wake.notified().await;
        }
    }

    fn spin(&self) -> ! {
        let mut yielded = 0;
        loop {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            let now = self.now();
            if now - yielded > YIELD_EVERY_NS {
                std::thread::yield_now();
                yielded = now;
            }
            if self.awake(now) {
                continue;
            }
            let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.parked.store(true, Ordering::SeqCst);
            while !self.active.load(Ordering::SeqCst)
                && self.now() >= self.until.load(Ordering::SeqCst)
            {
                g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                self.parked.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Keeps the calling runtime polling its sockets while the window is open, asleep otherwise
/// (spawn it once on the server's runtime after [`start`]; without idle polling it returns at
/// once).
pub async fn poll_runtime() {
    if let Some(p) = POLL.get() {
        p.poll_task().await;
    }
}

/// The CPUs in this process's affinity mask.
fn cpus() -> Vec<usize> {
    let cpus = sys::allowed_cpus();
    if cpus.is_empty() {
        (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
    } else {
        cpus
    }
}

/// Whether a cgroup CPU quota (a container's CPU limit) applies to this process, in which case
/// [`start`] starts nothing.
pub fn quota_applies() -> bool {
    quota::limited().is_some()
}

/// Whether a cgroup CPU quota applies to this process.
mod quota {
    use std::path::{Path, PathBuf};

    /// The first quota file (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`) of this process's
    /// cgroup or an ancestor that sets a limit.
    pub fn limited() -> Option<PathBuf> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        candidates(&own, Path::new("/sys/fs/cgroup"))
            .into_iter()
            .find(|f| std::fs::read_to_string(f).is_ok_and(|text| sets_limit(f, &text)))
    }

    /// Quota files to look at, own cgroup first, then its ancestors: v2's unified hierarchy
    /// and v1's cpu controller (mounted as `cpu` or `cpu,cpuacct`).
    pub fn candidates(proc_self_cgroup: &str, root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for line in proc_self_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (mounts, file): (Vec<&str>, &str) = if controllers.is_empty() {
                (vec![""], "cpu.max")
            } else if controllers.split(',').any(|c| c == "cpu") {
                (vec!["cpu", "cpu,cpuacct"], "cpu.cfs_quota_us")
            } else {
                continue;
            };
            for mount in mounts {
                let mut dir = Some(Path::new(path.trim_start_matches('/')));
                while let Some(d) = dir {
                    out.push(root.join(mount).join(d).join(file));
                    dir = d.parent();
                }
            }
        }
        out
    }

    /// Whether a quota file's text sets a limit: v2 `<quota> <period>` with a number, v1 a
    /// positive quota (-1 is none).
    pub fn sets_limit(file: &Path, text: &str) -> bool {
        let first = text.split_whitespace().next().unwrap_or("max");
        if file.ends_with("cpu.max") {
            first != "max"
        } else {
            first.parse::<i64>().is_ok_and(|q| q > 0)
        }
    }
}

#[cfg(target_os = "linux")]
mod sys {
    /// The CPUs this process may run on (empty when the mask cannot be read).
    pub fn allowed_cpus() -> Vec<usize> {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most
        // size_of::<cpu_set_t>() bytes into it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|c| libc::CPU_ISSET(*c, &set))
                .collect()
        }
    }

    /// Pins the calling thread to `cpu` and gives it SCHED_IDLE (allowed without privileges:
    /// it only lowers the priority). Failures are logged; returns whether SCHED_IDLE was set
    /// (an unpinned spinner is harmless, an ordinary-priority one is not).
    pub fn lowest_priority_on(cpu: usize) -> bool {
        // SAFETY: plain syscalls on the calling thread (pid 0) with initialised arguments.
        let (pinned, idle) = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            let pinned = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            let param = libc::sched_param { sched_priority: 0 };
            let idle = libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
            (pinned, idle)
        };
        if pinned != 0 || idle != 0 {
            tracing::warn!(
                cpu,
                pinned = pinned == 0,
                idle = idle == 0,
                error = %std::io::Error::last_os_error(),
                "idle polling: cannot pin a spinner or give it SCHED_IDLE"
            );
        }
        idle == 0
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub fn allowed_cpus() -> Vec<usize> {
        Vec::new()
    }
    pub fn lowest_priority_on(_cpu: usize) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;

    /// Waits (bounded) for `cond`.
    fn eventually(cond: impl Fn() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    #[test]
    fn cgroup_quota_files_and_limits() {
        use std::path::{Path, PathBuf};
        let root = Path::new("/cg");
        let v2 = quota::candidates("0::/kubepods/pod1/c1\n", root);
        assert_eq!(
            v2,
            ["kubepods/pod1/c1", "kubepods/pod1", "kubepods", ""]
                .iter()
                .map(|d| root.join(d).join("cpu.max"))
                .collect::<Vec<PathBuf>>()
        );
        let v1 = quota::candidates("4:memory:/x\n2:cpu,cpuacct:/docker/abc\n", root);
        assert_eq!(v1[0], root.join("cpu/docker/abc/cpu.cfs_quota_us"));
        assert!(v1.contains(&root.join("cpu,cpuacct/docker/cpu.cfs_quota_us")));
        assert!(v1.iter().all(|f| !f.starts_with("/cg/memory")));
        let max = Path::new("/cg/cpu.max");
        let cfs = Path::new("/cg/cpu/cpu.cfs_quota_us");
        assert!(!quota::sets_limit(max, "max 100000\n"));
        assert!(quota::sets_limit(max, "50000 100000\n"));
        assert!(!quota::sets_limit(cfs, "-1\n"));
        assert!(quota::sets_limit(cfs, "200000\n"));
    }

    /// Runs a poller with `window` on a current-thread runtime of its own, beside a task that
    /// sends a tick every millisecond, and waits for it to go to sleep (nothing touched it yet).
    fn runtime_with_poller(window: Duration) -> (&'static Poll, std::sync::mpsc::Receiver<()>) {
        let p: &'static Poll = Box::leak(Box::new(Poll::new(window)));
        let (tick, ticks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                tokio::spawn(p.poll_task());
                while tick.send(()).is_ok() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        });
        assert!(
            eventually(|| p.task_parked.load(SeqCst)),
            "never went to sleep"
        );
        (p, ticks)
    }

    #[test]
    fn runtime_poller_sleeps_when_quiet_and_wakes_on_touch() {
        let (p, _ticks) = runtime_with_poller(Duration::from_micros(200));
        for _ in 0..100 {
            p.touch();
            assert!(eventually(|| !p.active.load(SeqCst)), "activity not seen");
            assert!(
                eventually(|| p.task_parked.load(SeqCst)),
                "did not sleep again"
            );
        }
    }

    #[test]
    fn runtime_poller_held_awake_lets_other_tasks_run() {
        // A window far longer than the test: the task may sleep only if a touch were lost
        // (with a 200 µs window, this thread merely being preempted would let it sleep).
        let (p, ticks) = runtime_with_poller(Duration::from_secs(30));
        p.touch();
        assert!(eventually(|| !p.active.load(SeqCst)), "activity not seen");
        while ticks.try_recv().is_ok() {}
        let end = Instant::now() + Duration::from_millis(100);
        let mut n = 0;
        while Instant::now() < end {
            p.touch();
            assert!(!p.task_parked.load(SeqCst), "slept while held awake");
            while ticks.try_recv().is_ok() {
                n += 1;
            }
        }
        assert!(n >= 5, "other tasks starved: {n} ticks in 100 ms");
    }

    #[test]
    fn spinner_sleeps_when_quiet_and_wakes_on_touch() {
        let p: &'static Poll = Box::leak(Box::new(Poll::new(Duration::from_micros(200))));
        std::thread::spawn(move || p.spin());
        assert!(eventually(|| p.parked.load(SeqCst)), "never went to sleep");
        for _ in 0..100 {
            p.touch();
            // The spinner takes the activity and, the window over, sleeps again.
            assert!(eventually(|| !p.active.load(SeqCst)), "activity not seen");
            assert!(eventually(|| p.parked.load(SeqCst)), "did not sleep again");
        }
    }
}
