// Drives the real ZooKeeper 3.8 Java client through the capture proxy (see capture.sh).
//
// Every step first calls exists("/__step__/<name>"): extract.py uses these marker requests to
// name the frames that follow (the markers themselves are not kept). A step's name and
// description are also appended to the steps file (name<TAB>description).
//
// Usage: java GoldenDriver HOST:PORT DROP_FILE STEPS_FILE

import java.io.FileWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public class GoldenDriver {
    static String server;
    static String dropFile;
    static FileWriter steps;

    /** Tracks connection state so that steps can wait for (re)connection, bounded. */
    static class StateWatcher implements Watcher {
        final AtomicReference<CountDownLatch> connected =
                new AtomicReference<>(new CountDownLatch(1));
        volatile boolean disconnected;

        @Override
        public void process(WatchedEvent e) {
            if (e.getType() != Event.EventType.None) {
                return;
            }
            switch (e.getState()) {
                case Disconnected:
                    disconnected = true;
                    break;
                case SyncConnected:
                case ConnectedReadOnly:
                    connected.get().countDown();
                    break;
                default:
                    break;
            }
        }

        void await(String what) throws InterruptedException {
            if (!connected.get().await(20, TimeUnit.SECONDS)) {
                throw new IllegalStateException("timed out waiting for " + what);
            }
        }
    }

    static void step(ZooKeeper zk, String name, String description) throws Exception {
        steps.write(name + "\t" + description + "\n");
        steps.flush();
        zk.exists("/__step__/" + name, false);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static ZooKeeper connect(StateWatcher w, boolean canBeReadOnly) throws Exception {
        ZooKeeper zk = new ZooKeeper(server, 30000, w, canBeReadOnly);
        w.await("connection");
        return zk;
    }

    /** Has the proxy drop the TCP connection, then waits for the client to resume its session. */
    static void dropAndReconnect(StateWatcher w) throws Exception {
        w.connected.set(new CountDownLatch(1));
        w.disconnected = false;
        Files.write(Paths.get(dropFile), new byte[0]);
        w.await("reconnection");
        if (!w.disconnected) {
            throw new IllegalStateException("the client never saw the drop");
        }
    }

    static void expect(KeeperException.Code code, ThrowingRunnable r) throws Exception {
        try {
            r.run();
        } catch (KeeperException e) {
            if (e.code() != code) {
                throw e;
            }
            return;
        }
        throw new IllegalStateException("expected " + code);
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        server = args[0];
        dropFile = args[1];
        steps = new FileWriter(args[2], true);
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        Stat stat = new Stat();

        // --- Session A: nearly every op, a drop and a resume with setWatches2. ---
        StateWatcher wa = new StateWatcher();
        ZooKeeper zk = connect(wa, false);

        step(zk, "create2", "create2 (15) of /golden with data \"root\", OPEN_ACL_UNSAFE, persistent");
        zk.create("/golden", b("root"), open, CreateMode.PERSISTENT, stat);

        step(zk, "create", "create (1) of an ephemeral /golden/eph with null data");
        zk.create("/golden/eph", null, open, CreateMode.EPHEMERAL);

        step(zk, "create2-sequential", "create2 (15) persistent sequential /golden/seq-");
        zk.create("/golden/seq-", b("s"), open, CreateMode.PERSISTENT_SEQUENTIAL, stat);

        step(zk, "create2-nodeexists", "create2 (15) of an existing /golden: NodeExists (-110) error reply");
        expect(KeeperException.Code.NODEEXISTS,
                () -> zk.create("/golden", b("x"), open, CreateMode.PERSISTENT, new Stat()));

        step(zk, "createContainer", "createContainer (19) of /golden/container");
        zk.create("/golden/container", b("c"), open, CreateMode.CONTAINER, stat);

        step(zk, "createTTL", "createTTL (21) of /golden/ttl with ttl 60000");
        zk.create("/golden/ttl", b("t"), open, CreateMode.PERSISTENT_WITH_TTL, stat, 60000);

        step(zk, "exists-nonode-watch", "exists (3) with watch of missing /golden/watched: NoNode (-101)");
        zk.exists("/golden/watched", true);

        step(zk, "exists", "exists (3) of /golden without watch: Stat reply");
        zk.exists("/golden", false);

        step(zk, "getData-watch", "getData (4) with watch of /golden");
        zk.getData("/golden", true, stat);

        step(zk, "getData-nonode", "getData (4) of missing /nope: NoNode (-101) error reply");
        expect(KeeperException.Code.NONODE, () -> zk.getData("/nope", false, new Stat()));

        step(zk, "setData", "setData (5) of /golden to \"v2\" any version; fires the data watch");
        zk.setData("/golden", b("v2"), -1);

        step(zk, "setData-badversion", "setData (5) of /golden with version 99: BadVersion (-103)");
        expect(KeeperException.Code.BADVERSION, () -> zk.setData("/golden", b("v3"), 99));

        step(zk, "getChildren-watch", "getChildren (8) with watch of /golden");
        zk.getChildren("/golden", true);

        step(zk, "getChildren2", "getChildren2 (12) of /golden without watch");
        zk.getChildren("/golden", false, stat);

        step(zk, "create-child-event", "create (1) of /golden/child; fires NodeChildrenChanged");
        zk.create("/golden/child", b("c"), open, CreateMode.PERSISTENT);

        step(zk, "getACL", "getACL (6) of /golden");
        zk.getACL("/golden", stat);

        step(zk, "setACL", "setACL (7) of /golden/child: world:anyone READ + ip:127.0.0.1 ALL");
        zk.setACL("/golden/child", Arrays.asList(
                new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE),
                new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1"))), -1);

        step(zk, "auth", "auth (100, xid -4) digest user:pw");
        zk.addAuthInfo("digest", b("user:pw"));

        step(zk, "whoAmI", "whoAmI (107) after digest auth");
        zk.whoAmI();

        step(zk, "getEphemerals", "getEphemerals (103) with prefix /golden");
        zk.getEphemerals("/golden");

        step(zk, "getAllChildrenNumber", "getAllChildrenNumber (104) of /golden");
        zk.getAllChildrenNumber("/golden");

        step(zk, "sync", "sync (9) of /golden");
        CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/golden", (rc, path, ctx) -> synced.countDown(), null);
        if (!synced.await(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("sync timed out");
        }

        step(zk, "multi-fail", "multi (14): create /golden/m1, setData /golden version 99 (BadVersion), delete /golden/child");
        try {
            zk.multi(Arrays.asList(
                    Op.create("/golden/m1", b("m"), open, CreateMode.PERSISTENT),
                    Op.setData("/golden", b("x"), 99),
                    Op.delete("/golden/child", -1)));
            throw new IllegalStateException("multi should have failed");
        } catch (KeeperException e) {
            if (e.code() != KeeperException.Code.BADVERSION) {
                throw e;
            }
        }

        step(zk, "multi", "multi (14): create /golden/m2, setData /golden/m2, check /golden, delete /golden/m2");
        zk.multi(Arrays.asList(
                Op.create("/golden/m2", b("m"), open, CreateMode.PERSISTENT),
                Op.setData("/golden/m2", b("n"), 0),
                Op.check("/golden", 1),
                Op.delete("/golden/m2", 1)));

        step(zk, "multiRead", "multiRead (22): getData /golden, getChildren /golden, getData /nope (NoNode)");
        List<OpResult> reads = zk.multi(Arrays.asList(
                Op.getData("/golden"), Op.getChildren("/golden"), Op.getData("/nope")));
        if (reads.size() != 3) {
            throw new IllegalStateException("multiRead results: " + reads);
        }

        step(zk, "addWatch-persistent", "addWatch (106) mode 0 (persistent) on /golden/pw");
        zk.addWatch("/golden/pw", AddWatchMode.PERSISTENT);

        step(zk, "addWatch-recursive", "addWatch (106) mode 1 (persistent recursive) on /golden/tree");
        zk.addWatch("/golden/tree", AddWatchMode.PERSISTENT_RECURSIVE);

        step(zk, "delete-notempty", "delete (2) of non-empty /golden: NotEmpty (-111)");
        expect(KeeperException.Code.NOTEMPTY, () -> zk.delete("/golden", -1));

        step(zk, "delete", "delete (2) of /golden/container version -1");
        zk.delete("/golden/container", -1);

        // Watches outstanding now: exist /golden/watched, data /golden (re-armed below), child
        // /golden (fired above; re-armed below), persistent /golden/pw, recursive /golden/tree.
        step(zk, "rearm-watches", "getData and getChildren with watch of /golden (re-arm before the drop)");
        zk.getData("/golden", true, stat);
        zk.getChildren("/golden", true);

        dropAndReconnect(wa);

        step(zk, "persistent-event", "create (1) of /golden/pw; fires the persistent watch (NodeCreated)");
        zk.create("/golden/pw", b("p"), open, CreateMode.PERSISTENT);

        step(zk, "closeSession", "closeSession (-11) of session A");
        zk.close();

        // --- Session B: canBeReadOnly=true, so readOnly byte 1. ---
        StateWatcher wb = new StateWatcher();
        ZooKeeper zkb = connect(wb, true);
        step(zkb, "session-b", "session B (canBeReadOnly) closes at once");
        zkb.close();

        // --- Session C: only a data watch, so the resume uses setWatches (101). ---
        StateWatcher wc = new StateWatcher();
        ZooKeeper zkc = connect(wc, false);
        step(zkc, "session-c-watch", "session C: getData (4) with watch of /golden/child");
        zkc.getData("/golden/child", true, stat);
        dropAndReconnect(wc);
        step(zkc, "session-c-removeWatches", "session C: removeAllWatches (removeWatches 18) of /golden/child, any type");
        zkc.removeAllWatches("/golden/child", Watcher.WatcherType.Any, false);
        step(zkc, "session-c-close", "session C closes");
        zkc.close();

        steps.close();
        System.out.println("driver done");
    }
}
