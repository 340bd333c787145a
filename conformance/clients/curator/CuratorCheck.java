import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;

/**
 * Curator recipes against a ZooKeeper-compatible server: `java CuratorCheck host:port`.
 * Each check prints `PASS name` or `FAIL name: why`; the last line is
 * `curator: N passed, M failed` and the exit status is 1 when M > 0. Every wait is bounded
 * (T seconds), and a watchdog ends the program after WATCHDOG seconds in any case.
 */
public class CuratorCheck {
    static final int T = 20;
    static final int WATCHDOG = 240;
    static final String ROOT = "/curator-check";
    static String connect;
    static int passed, failed;
    static final List<CuratorFramework> clients = new ArrayList<>();

    interface Body {
        void run() throws Exception;
    }

    static class CheckFailed extends Exception {
        CheckFailed(String m) {
            super(m);
        }
    }

    static void require(boolean cond, String what) throws CheckFailed {
        if (!cond) throw new CheckFailed(what);
    }

    static void check(String name, Body body) {
        try {
            body.run();
            passed++;
            System.out.println("PASS " + name);
        } catch (Throwable t) {
            failed++;
            String why = (t instanceof CheckFailed) ? t.getMessage() : t.toString();
            System.out.println("FAIL " + name + ": " + why);
            if (!(t instanceof CheckFailed)) t.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static CuratorFramework client() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(15000)
                .connectionTimeoutMs(10000)
                .retryPolicy(new RetryNTimes(3, 500))
                .build();
        clients.add(c);
        c.start();
        require(c.blockUntilConnected(T, TimeUnit.SECONDS), "client did not connect within " + T + " s");
        return c;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? "null" : new String(b, StandardCharsets.UTF_8);
    }

    // A session sees another session's writes only after a sync when the two may be on
    // different members (ZooKeeper's guarantee); without it reads here flaked on an ensemble.
    static void catchUp(CuratorFramework c, String path) throws Exception {
        CountDownLatch synced = new CountDownLatch(1);
        c.sync().inBackground((cl, ev) -> synced.countDown()).forPath(path);
        require(await(synced), "sync did not complete within " + T + " s");
    }

    static boolean await(CountDownLatch l) throws InterruptedException {
        return l.await(T, TimeUnit.SECONDS);
    }

    interface Cond {
        boolean test() throws Exception;
    }

    /** Bounded polling (T seconds) for a state that has no event to wait on. */
    static void waitUntil(Cond c, String what) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(T);
        while (!c.test()) {
            if (System.nanoTime() > end) throw new CheckFailed("timed out after " + T + " s waiting for " + what);
            Thread.sleep(20);
        }
    }

    static <V> V get(Future<V> f) throws Exception {
        return f.get(T, TimeUnit.SECONDS);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: CuratorCheck host:port");
            System.exit(2);
        }
        connect = args[0];
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(WATCHDOG * 1000L);
                System.out.println("FAIL watchdog: still running after " + WATCHDOG + " s");
                System.out.println("curator: " + passed + " passed, " + (failed + 1) + " failed");
                System.out.flush();
                Runtime.getRuntime().halt(1);
            } catch (InterruptedException e) {
                // normal end
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();

        CuratorFramework c1 = null, c2 = null;
        try {
            c1 = client();
            c2 = client();
        } catch (Throwable t) {
            System.out.println("FAIL connect: " + t);
            System.out.println("curator: 0 passed, 1 failed");
            System.exit(1);
        }
        final CuratorFramework a = c1, bcl = c2;
        if (a.checkExists().forPath(ROOT) != null) a.delete().deletingChildrenIfNeeded().forPath(ROOT);
        a.create().forPath(ROOT);

        check("crud", () -> crud(a));
        check("mutex-handoff", () -> mutexHandoff(a, bcl));
        check("mutex-exclusion", () -> mutexExclusion(a, bcl));
        check("semaphore", () -> semaphore(a, bcl));
        check("leader-latch", () -> leaderLatch(a, bcl));
        check("barrier", () -> barrier(a, bcl));
        check("double-barrier", () -> doubleBarrier(a, bcl));
        check("simple-queue", () -> simpleQueue(a, bcl));
        check("distributed-queue", () -> distributedQueue(a, bcl));
        check("curator-cache", () -> curatorCache(a, bcl));
        check("persistent-node", () -> persistentNode(a, bcl));
        check("ephemeral-on-close", () -> ephemeralOnClose(bcl));
        check("transaction", () -> transaction(a));
        check("transaction-rollback", () -> transactionRollback(a));
        check("shared-count", () -> sharedCount(a, bcl));
        check("atomic-long", () -> atomicLong(a, bcl));

        try {
            a.delete().deletingChildrenIfNeeded().forPath(ROOT);
        } catch (Throwable t) {
            System.out.println("note: cleanup of " + ROOT + " failed: " + t);
        }
        for (CuratorFramework c : clients) c.close();
        System.out.println("curator: " + passed + " passed, " + failed + " failed");
        System.out.flush();
        System.exit(failed > 0 ? 1 : 0);
    }

    // Plain framework operations, including the error paths Curator maps to exceptions.
    static void crud(CuratorFramework c) throws Exception {
        String p = ROOT + "/crud/a/b";
        c.create().creatingParentsIfNeeded().forPath(p, b("v0"));
        Stat st = new Stat();
        require(s(c.getData().storingStatIn(st).forPath(p)).equals("v0"), "data after create");
        require(st.getVersion() == 0, "version after create: " + st.getVersion());
        c.setData().withVersion(0).forPath(p, b("v1"));
        try {
            c.setData().withVersion(0).forPath(p, b("v2"));
            throw new CheckFailed("setData with stale version succeeded");
        } catch (KeeperException.BadVersionException expected) {
        }
        try {
            c.create().forPath(p);
            throw new CheckFailed("second create succeeded");
        } catch (KeeperException.NodeExistsException expected) {
        }
        try {
            c.delete().forPath(ROOT + "/crud/a");
            throw new CheckFailed("delete of non-empty node succeeded");
        } catch (KeeperException.NotEmptyException expected) {
        }
        String seq = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(ROOT + "/crud/s-");
        require(seq.equals(ROOT + "/crud/s-0000000001"), "sequential name " + seq);
        String ttl = c.create().withTtl(600000).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(ROOT + "/crud/ttl");
        require(ttl.equals(ROOT + "/crud/ttl"), "ttl create returned " + ttl);
        c.create().withMode(CreateMode.CONTAINER).forPath(ROOT + "/crud/container");
        List<String> kids = c.getChildren().forPath(ROOT + "/crud");
        require(kids.size() == 4, "children " + kids);
        c.delete().deletingChildrenIfNeeded().forPath(ROOT + "/crud");
        require(c.checkExists().forPath(ROOT + "/crud") == null, "crud subtree still exists");
    }

    // Client 1 holds the lock; client 2 cannot get it until client 1 releases.
    static void mutexHandoff(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/mutex-handoff";
        InterProcessMutex m1 = new InterProcessMutex(c1, path);
        InterProcessMutex m2 = new InterProcessMutex(c2, path);
        require(m1.acquire(T, TimeUnit.SECONDS), "client 1 did not acquire a free lock");
        require(m1.isAcquiredInThisProcess(), "client 1 does not own the lock");
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            CountDownLatch trying = new CountDownLatch(1);
            Future<Boolean> f = ex.submit(() -> {
                trying.countDown();
                return m2.acquire(T, TimeUnit.SECONDS);
            });
            require(await(trying), "client 2 thread did not start");
            // client 2 must still be waiting while client 1 holds the lock
            try {
                f.get(1, TimeUnit.SECONDS);
                throw new CheckFailed("client 2 acquired while client 1 held the lock");
            } catch (java.util.concurrent.TimeoutException expected) {
            }
            waitUntil(() -> m2.getParticipantNodes().size() == 2, "two lock participants");
            m1.release();
            require(get(f), "client 2 did not acquire within " + T + " s of the release");
            require(m2.isAcquiredInThisProcess(), "client 2 does not own the lock");
            require(!m1.acquire(300, TimeUnit.MILLISECONDS), "client 1 re-acquired while client 2 holds it");
            ex.submit(() -> {
                m2.release();
                return null;
            }).get(T, TimeUnit.SECONDS);
            require(m1.acquire(T, TimeUnit.SECONDS), "client 1 could not re-acquire");
            m1.release();
        } finally {
            ex.shutdownNow();
        }
    }

    // Four workers (two per client) increment a plain counter under the lock.
    static int plainCounter;

    static void mutexExclusion(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/mutex-exclusion";
        final int workers = 4, rounds = 10;
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger violations = new AtomicInteger();
        plainCounter = 0;
        ExecutorService ex = Executors.newFixedThreadPool(workers);
        try {
            List<Future<String>> fs = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                InterProcessMutex m = new InterProcessMutex(w % 2 == 0 ? c1 : c2, path);
                fs.add(ex.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        if (!m.acquire(T, TimeUnit.SECONDS)) return "acquire timed out";
                        try {
                            if (inside.incrementAndGet() != 1) violations.incrementAndGet();
                            int v = plainCounter;
                            Thread.yield();
                            plainCounter = v + 1;
                            inside.decrementAndGet();
                        } finally {
                            m.release();
                        }
                    }
                    return "ok";
                }));
            }
            for (Future<String> f : fs) {
                String r = f.get(3 * T, TimeUnit.SECONDS);
                require(r.equals("ok"), "worker: " + r);
            }
        } finally {
            ex.shutdownNow();
        }
        require(violations.get() == 0, violations.get() + " mutual-exclusion violations");
        require(plainCounter == workers * rounds, "counter " + plainCounter + " != " + workers * rounds);
    }

    // A semaphore with 2 leases shared by 2 clients: the third acquire must wait.
    static void semaphore(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/semaphore";
        InterProcessSemaphoreV2 s1 = new InterProcessSemaphoreV2(c1, path, 2);
        InterProcessSemaphoreV2 s2 = new InterProcessSemaphoreV2(c2, path, 2);
        Lease l1 = s1.acquire(T, TimeUnit.SECONDS);
        Lease l2 = s2.acquire(T, TimeUnit.SECONDS);
        require(l1 != null && l2 != null, "two leases not granted");
        require(s2.acquire(300, TimeUnit.MILLISECONDS) == null, "a third lease was granted");
        s1.returnLease(l1);
        Lease l3 = s2.acquire(T, TimeUnit.SECONDS);
        require(l3 != null, "lease not granted after one was returned");
        s2.returnLease(l2);
        s2.returnLease(l3);
    }

    static void leaderLatch(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/leader";
        CountDownLatch anyLeader = new CountDownLatch(1);
        CountDownLatch leader1 = new CountDownLatch(1), leader2 = new CountDownLatch(1);
        LeaderLatch l1 = new LeaderLatch(c1, path, "p1");
        LeaderLatch l2 = new LeaderLatch(c2, path, "p2");
        l1.addListener(listener(anyLeader, leader1));
        l2.addListener(listener(anyLeader, leader2));
        l1.start();
        l2.start();
        try {
            require(await(anyLeader), "no leader within " + T + " s");
            // The other latch's node may not be created, or not visible on this client's member,
            // when the first leader is chosen.
            waitUntil(() -> l1.getParticipants().size() == 2 && l2.getParticipants().size() == 2,
                    "both participants seen by both clients");
            require(l1.hasLeadership() ^ l2.hasLeadership(),
                    "leadership: p1=" + l1.hasLeadership() + " p2=" + l2.hasLeadership());
            LeaderLatch leader = l1.hasLeadership() ? l1 : l2;
            LeaderLatch other = leader == l1 ? l2 : l1;
            CountDownLatch otherBecomes = leader == l1 ? leader2 : leader1;
            require(l1.getLeader().getId().equals(leader.getId()), "p1 sees leader " + l1.getLeader().getId());
            require(l2.getLeader().getId().equals(leader.getId()), "p2 sees leader " + l2.getLeader().getId());
            leader.close();
            require(await(otherBecomes), "leadership did not move to " + other.getId() + " within " + T + " s");
            require(other.hasLeadership(), other.getId() + " lost leadership again");
            require(other.getLeader().getId().equals(other.getId()), "leader id " + other.getLeader().getId());
            require(other.getParticipants().size() == 1, "participants after close " + other.getParticipants());
            other.close();
        } finally {
            closeQuietly(l1);
            closeQuietly(l2);
        }
    }

    static LeaderLatchListener listener(CountDownLatch any, CountDownLatch mine) {
        return new LeaderLatchListener() {
            public void isLeader() {
                any.countDown();
                mine.countDown();
            }

            public void notLeader() {
            }
        };
    }

    static void closeQuietly(LeaderLatch l) {
        try {
            if (l.getState() == LeaderLatch.State.STARTED) l.close();
        } catch (Exception ignored) {
        }
    }

    static void barrier(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/barrier";
        final int n = 3;
        DistributedBarrier setter = new DistributedBarrier(c1, path);
        setter.setBarrier();
        ExecutorService ex = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch started = new CountDownLatch(n);
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                DistributedBarrier w = new DistributedBarrier(i % 2 == 0 ? c2 : c1, path);
                fs.add(ex.submit(() -> {
                    started.countDown();
                    return w.waitOnBarrier(T, TimeUnit.SECONDS);
                }));
            }
            require(await(started), "waiters did not start");
            try {
                fs.get(0).get(500, TimeUnit.MILLISECONDS);
                throw new CheckFailed("a waiter passed the barrier while it was set");
            } catch (java.util.concurrent.TimeoutException expected) {
            }
            setter.removeBarrier();
            for (Future<Boolean> f : fs) require(get(f), "a waiter timed out after the barrier was removed");
            require(new DistributedBarrier(c2, path).waitOnBarrier(1, TimeUnit.SECONDS), "removed barrier blocks");
        } finally {
            ex.shutdownNow();
        }
    }

    static void doubleBarrier(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/double-barrier";
        final int n = 3;
        ExecutorService ex = Executors.newFixedThreadPool(n);
        AtomicInteger entered = new AtomicInteger();
        AtomicInteger left = new AtomicInteger();
        try {
            List<DistributedDoubleBarrier> bs = new ArrayList<>();
            for (int i = 0; i < n; i++) bs.add(new DistributedDoubleBarrier(i % 2 == 0 ? c1 : c2, path, n));
            List<Future<Boolean>> enters = new ArrayList<>();
            for (int i = 0; i < n - 1; i++) {
                DistributedDoubleBarrier db = bs.get(i);
                enters.add(ex.submit(() -> {
                    boolean ok = db.enter(T, TimeUnit.SECONDS);
                    if (ok) entered.incrementAndGet();
                    return ok;
                }));
            }
            try {
                enters.get(0).get(500, TimeUnit.MILLISECONDS);
                throw new CheckFailed("entered with " + (n - 1) + " of " + n + " members");
            } catch (java.util.concurrent.TimeoutException expected) {
            }
            DistributedDoubleBarrier last = bs.get(n - 1);
            enters.add(ex.submit(() -> {
                boolean ok = last.enter(T, TimeUnit.SECONDS);
                if (ok) entered.incrementAndGet();
                return ok;
            }));
            for (Future<Boolean> f : enters) require(get(f), "enter timed out");
            require(entered.get() == n, "entered " + entered.get());
            List<Future<Boolean>> leaves = new ArrayList<>();
            for (DistributedDoubleBarrier db : bs) {
                leaves.add(ex.submit(() -> {
                    boolean ok = db.leave(T, TimeUnit.SECONDS);
                    if (ok) left.incrementAndGet();
                    return ok;
                }));
            }
            for (Future<Boolean> f : leaves) require(get(f), "leave timed out");
            require(left.get() == n, "left " + left.get());
            catchUp(c1, path);
            List<String> rest = c1.getChildren().forPath(path);
            require(rest.isEmpty(), "barrier members left behind: " + rest);
        } finally {
            ex.shutdownNow();
        }
    }

    static void simpleQueue(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/simple-queue";
        final int n = 10;
        SimpleDistributedQueue producer = new SimpleDistributedQueue(c1, path);
        SimpleDistributedQueue consumer = new SimpleDistributedQueue(c2, path);
        for (int i = 0; i < n; i++) require(producer.offer(b("item-" + i)), "offer " + i);
        catchUp(c2, path);
        require(s(consumer.peek()).equals("item-0"), "peek");
        for (int i = 0; i < n; i++) {
            byte[] got = consumer.poll(T, TimeUnit.SECONDS);
            require(got != null, "poll " + i + " timed out");
            require(s(got).equals("item-" + i), "item " + i + " was " + s(got));
        }
        require(consumer.poll() == null, "queue not empty after " + n + " takes");
        // a blocked taker is woken by a later offer (child watch)
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<byte[]> f = ex.submit(() -> consumer.poll(T, TimeUnit.SECONDS));
            try {
                f.get(300, TimeUnit.MILLISECONDS);
                throw new CheckFailed("poll on an empty queue returned");
            } catch (java.util.concurrent.TimeoutException expected) {
            }
            producer.offer(b("late"));
            require(s(get(f)).equals("late"), "blocked poll did not get the late item");
        } finally {
            ex.shutdownNow();
        }
    }

    static void distributedQueue(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/queue";
        final int n = 10;
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        QueueSerializer<String> ser = new QueueSerializer<String>() {
            public byte[] serialize(String item) {
                return b(item);
            }

            public String deserialize(byte[] bytes) {
                return s(bytes);
            }
        };
        QueueConsumer<String> consumer = new QueueConsumer<String>() {
            public void consumeMessage(String message) {
                got.add(message);
            }

            public void stateChanged(CuratorFramework client, ConnectionState newState) {
            }
        };
        DistributedQueue<String> consumerQ = QueueBuilder.builder(c2, consumer, ser, path).buildQueue();
        DistributedQueue<String> producerQ = QueueBuilder.builder(c1, null, ser, path).buildQueue();
        consumerQ.start();
        producerQ.start();
        try {
            for (int i = 0; i < n; i++) producerQ.put("msg-" + i);
            for (int i = 0; i < n; i++) {
                String m = got.poll(T, TimeUnit.SECONDS);
                require(m != null, "message " + i + " not consumed within " + T + " s");
                require(m.equals("msg-" + i), "message " + i + " was " + m);
            }
            require(got.poll(200, TimeUnit.MILLISECONDS) == null, "extra message consumed");
        } finally {
            producerQ.close();
            consumerQ.close();
        }
    }

    // CuratorCache (persistent recursive watch): one event per step, waited for before the next.
    static void curatorCache(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/cache";
        c1.create().forPath(path, b("root"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CountDownLatch initialized = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c1, path);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> events.add("create " + n.getPath() + " " + s(n.getData())))
                .forChanges((o, n) -> events.add("change " + n.getPath() + " " + s(o.getData()) + "->" + s(n.getData())))
                .forDeletes(o -> events.add("delete " + o.getPath()))
                .forInitialized(initialized::countDown)
                .build());
        cache.start();
        try {
            require(await(initialized), "cache not initialized within " + T + " s");
            expect(events, "create " + path + " root");
            require(events.isEmpty(), "unexpected events: " + events);
            c2.create().forPath(path + "/a", b("1"));
            expect(events, "create " + path + "/a 1");
            c2.setData().forPath(path + "/a", b("2"));
            expect(events, "change " + path + "/a 1->2");
            c2.create().forPath(path + "/a/b", b("x"));
            expect(events, "create " + path + "/a/b x");
            c2.setData().forPath(path, b("root2"));
            expect(events, "change " + path + " root->root2");
            c2.delete().forPath(path + "/a/b");
            expect(events, "delete " + path + "/a/b");
            c2.delete().forPath(path + "/a");
            expect(events, "delete " + path + "/a");
            ChildData d = cache.get(path).orElse(null);
            require(d != null && s(d.getData()).equals("root2"), "cache content for root: " + d);
            require(cache.size() == 1, "cache size " + cache.size());
        } finally {
            cache.close();
        }
    }

    static void expect(BlockingQueue<String> events, String want) throws Exception {
        String got = events.poll(T, TimeUnit.SECONDS);
        require(got != null, "no event within " + T + " s, wanted '" + want + "'");
        require(got.equals(want), "event '" + got + "', wanted '" + want + "'");
    }

    // PersistentNode (ephemeral): created, owned by client 1's session, re-created when deleted,
    // removed on close.
    static void persistentNode(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/pn";
        c1.create().forPath(path);
        String node = path + "/member";
        PersistentNode pn = new PersistentNode(c1, CreateMode.EPHEMERAL, false, node, b("me"));
        pn.start();
        try {
            require(pn.waitForInitialCreate(T, TimeUnit.SECONDS), "not created within " + T + " s");
            catchUp(c2, node);
            Stat st = c2.checkExists().forPath(node);
            require(st != null, "node missing after initial create");
            long sid = c1.getZookeeperClient().getZooKeeper().getSessionId();
            require(st.getEphemeralOwner() == sid,
                    "ephemeralOwner 0x" + Long.toHexString(st.getEphemeralOwner()) + " != session 0x" + Long.toHexString(sid));
            CountDownLatch recreated = new CountDownLatch(1);
            CountDownLatch deleted = new CountDownLatch(1);
            Stat before = c2.checkExists().usingWatcher((Watcher) e -> deleted.countDown()).forPath(node);
            require(before != null, "node vanished");
            c2.delete().forPath(node);
            require(await(deleted), "no NodeDeleted event");
            // exists-watch on the (maybe already re-created) path: NodeCreated or it exists
            Stat now = c2.checkExists().usingWatcher((Watcher) e -> {
                if (e.getType() == Watcher.Event.EventType.NodeCreated) recreated.countDown();
            }).forPath(node);
            if (now == null) require(await(recreated), "PersistentNode did not re-create the node within " + T + " s");
            Stat again = c2.checkExists().forPath(node);
            require(again != null && again.getEphemeralOwner() == sid, "re-created node " + again);
            require(s(c2.getData().forPath(node)).equals("me"), "re-created data");
            // PersistentNode.setData is asynchronous: wait for the data watch, then read.
            CountDownLatch changed = new CountDownLatch(1);
            c2.getData().usingWatcher((Watcher) e -> {
                if (e.getType() == Watcher.Event.EventType.NodeDataChanged) changed.countDown();
            }).forPath(node);
            pn.setData(b("me2"));
            require(await(changed), "no NodeDataChanged after PersistentNode.setData");
            require(s(c2.getData().forPath(node)).equals("me2"), "setData through PersistentNode");
        } finally {
            pn.close();
        }
        catchUp(c2, node);
        require(c2.checkExists().forPath(node) == null, "node still exists after PersistentNode.close()");
    }

    // Ephemerals of a closed session are gone by the time close() returns.
    static void ephemeralOnClose(CuratorFramework observer) throws Exception {
        String path = ROOT + "/eph";
        observer.create().forPath(path);
        CuratorFramework c3 = client();
        c3.create().withMode(CreateMode.EPHEMERAL).forPath(path + "/e1", b("x"));
        String seq = c3.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(path + "/es-");
        require(seq.equals(path + "/es-0000000001"), "ephemeral sequential " + seq);
        catchUp(observer, path);
        require(observer.getChildren().forPath(path).size() == 2, "ephemerals not visible");
        try {
            c3.create().withMode(CreateMode.EPHEMERAL).forPath(path + "/e1/child");
            throw new CheckFailed("child of an ephemeral was created");
        } catch (KeeperException.NoChildrenForEphemeralsException expected) {
        }
        CountDownLatch gone = new CountDownLatch(1);
        observer.getChildren().usingWatcher((Watcher) e -> gone.countDown()).forPath(path);
        c3.close();
        clients.remove(c3);
        require(await(gone), "no child event after the owner closed");
        List<String> left = observer.getChildren().forPath(path);
        require(left.isEmpty(), "ephemerals left after close: " + left);
    }

    static void transaction(CuratorFramework c) throws Exception {
        String p = ROOT + "/tx";
        CuratorOp create = c.transactionOp().create().forPath(p, b("t"));
        CuratorOp child = c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(p + "/s-", b("c"));
        CuratorOp set = c.transactionOp().setData().withVersion(0).forPath(p, b("t2"));
        CuratorOp chk = c.transactionOp().check().withVersion(1).forPath(p);
        List<CuratorTransactionResult> rs = c.transaction().forOperations(create, child, set, chk);
        require(rs.size() == 4, "results " + rs.size());
        require(rs.get(0).getType() == OperationType.CREATE && rs.get(0).getForPath().equals(p), "result 0");
        require(rs.get(1).getResultPath().equals(p + "/s-0000000000"), "sequential result " + rs.get(1).getResultPath());
        require(rs.get(2).getType() == OperationType.SET_DATA && rs.get(2).getResultStat().getVersion() == 1,
                "setData result stat version " + (rs.get(2).getResultStat() == null ? "null" : rs.get(2).getResultStat().getVersion()));
        require(rs.get(3).getType() == OperationType.CHECK, "result 3 type " + rs.get(3).getType());
        for (CuratorTransactionResult r : rs) require(r.getError() == 0, "error " + r.getError() + " at " + r.getForPath());
        require(s(c.getData().forPath(p)).equals("t2"), "data after transaction");
        List<CuratorTransactionResult> del = c.transaction().forOperations(
                c.transactionOp().delete().forPath(p + "/s-0000000000"),
                c.transactionOp().delete().withVersion(1).forPath(p));
        require(del.size() == 2 && c.checkExists().forPath(p) == null, "delete transaction");
    }

    static void transactionRollback(CuratorFramework c) throws Exception {
        String p = ROOT + "/txr";
        c.create().forPath(p, b("keep"));
        try {
            c.transaction().forOperations(
                    c.transactionOp().create().forPath(p + "/new"),
                    c.transactionOp().setData().forPath(p, b("changed")),
                    c.transactionOp().delete().forPath(p + "/missing"));
            throw new CheckFailed("transaction with a failing delete succeeded");
        } catch (KeeperException.NoNodeException expected) {
        }
        require(c.checkExists().forPath(p + "/new") == null, "create of a failed transaction is visible");
        require(s(c.getData().forPath(p)).equals("keep"), "setData of a failed transaction is visible");
        try {
            c.transaction().forOperations(c.transactionOp().check().withVersion(5).forPath(p),
                    c.transactionOp().create().forPath(p + "/new2"));
            throw new CheckFailed("transaction with a failing check succeeded");
        } catch (KeeperException.BadVersionException expected) {
        }
        require(c.checkExists().forPath(p + "/new2") == null, "create after failing check is visible");
    }

    static void sharedCount(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/count";
        SharedCount s1 = new SharedCount(c1, path, 0);
        SharedCount s2 = new SharedCount(c2, path, 0);
        CountDownLatch seen = new CountDownLatch(1);
        s1.start();
        s2.start();
        try {
            s2.addListener(new org.apache.curator.framework.recipes.shared.SharedCountListener() {
                public void countHasChanged(org.apache.curator.framework.recipes.shared.SharedCountReader r, int n) {
                    if (n == 7) seen.countDown();
                }

                public void stateChanged(CuratorFramework client, ConnectionState newState) {
                }
            });
            VersionedValue<Integer> v = s1.getVersionedValue();
            require(s1.trySetCount(v, 7), "trySetCount with a current version failed");
            require(!s1.trySetCount(v, 8), "trySetCount with a stale version succeeded");
            require(await(seen), "second SharedCount did not see 7");
            require(s2.getCount() == 7, "count " + s2.getCount());
        } finally {
            s1.close();
            s2.close();
        }
    }

    static void atomicLong(CuratorFramework c1, CuratorFramework c2) throws Exception {
        String path = ROOT + "/atomic";
        final int workers = 4, rounds = 10;
        ExecutorService ex = Executors.newFixedThreadPool(workers);
        try {
            List<Future<String>> fs = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                DistributedAtomicLong al = new DistributedAtomicLong(w % 2 == 0 ? c1 : c2, path, new RetryNTimes(1000, 1));
                fs.add(ex.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        AtomicValue<Long> r = al.increment();
                        if (!r.succeeded()) return "increment " + i + " failed";
                    }
                    return "ok";
                }));
            }
            for (Future<String> f : fs) {
                String r = f.get(3 * T, TimeUnit.SECONDS);
                require(r.equals("ok"), r);
            }
        } finally {
            ex.shutdownNow();
        }
        catchUp(c1, path);
        AtomicValue<Long> v = new DistributedAtomicLong(c1, path, new RetryNTimes(3, 10)).get();
        require(v.succeeded() && v.postValue() == workers * rounds, "value " + v.postValue());
    }
}
