package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.model.family.Checkpoints;
import ai.crate.model.io.StoredTensor;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --distributed mpi} under a real {@code mpirun -np 2} on this machine (Open MPI; .ci/run installs it):
 * two ranks equal one process at the same global batch, a stopped and resumed job ends with the uninterrupted bits,
 * a killed rank takes the job down, a batch that does not split is refused. Skipped, saying why, without mpirun.
 */
class DistributedTrainTest {
    @TempDir
    static Path dir;

    private static Path data;

    @BeforeAll
    static void data() throws IOException {
        String mpirun = mpirun();
        if (mpirun == null) System.out.println("DistributedTrainTest skipped: no mpirun on the PATH (apt-get install openmpi-bin)");
        Assumptions.assumeTrue(mpirun != null, "no mpirun on the PATH (apt-get install openmpi-bin libopenmpi3)");
        data = dir.resolve("data");
        TrainCommandTest.writeIdx(data, "train", 640, 11);
        TrainCommandTest.writeIdx(data, "t10k", 50, 12);
    }

    private static String mpirun() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            // by name, as a user runs it: an absolute path makes mpirun derive --prefix from it (/bin → "/": refused)
            if (Files.isExecutable(Path.of(d, "mpirun"))) return "mpirun";
        }
        return null;
    }

    /** mpirun -np 2 of the command line in fresh JVMs on this test's class path; output to {@code log}. */
    private static Process start(Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(mpirun(), "--allow-run-as-root", "--oversubscribe", "--mca", "pml",
                "ob1", "--mca", "btl", "self,vader,tcp", "-np", "2",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules",
                "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp",
                System.getProperty("java.class.path"), "ai.crate.cli.CrateCli"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static String run(Path log, String... args) throws Exception {
        Process p = start(log, args);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "mpirun did not finish within 3 minutes");
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** train on two ranks of one thread, 3 epochs of batch 64 unless {@code more} says otherwise. */
    private static String[] train(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--distributed", "mpi", "--data", data.toString(),
                "--threads", "1", "--backend", "simd", "--out", out.toString()));
        List<String> extra = List.of(more);
        if (!extra.contains("--epochs")) a.addAll(List.of("--epochs", "3"));
        if (!extra.contains("--batch")) a.addAll(List.of("--batch", "64"));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    private static Map<String, StoredTensor> weights(Path checkpoint) throws Exception {
        Map<String, StoredTensor> w = new TreeMap<>(Checkpoints.read(checkpoint).tensors());
        w.keySet().removeIf(k -> k.startsWith(Checkpoints.TRAIN_STATE_PREFIX));
        return w;
    }

    /**
     * The computation is the single process's up to the order of float additions (each rank sums its half of the
     * batch; the halves are then added), so the test holds the weights to 1e-4 with an update that passes rounding
     * differences on at their size: SGD at a small learning rate (measured: at most 2e-5 relative L2 per tensor).
     * The default AdamW divides by √v, which turns rounding noise in near-zero gradients into ±lr steps: there the
     * same two runs differ by up to 0.22 relative L2 (a LayerNorm bias) after 30 steps — no more than one process
     * differs from itself run with 1 thread and with 2 (0.14: the SIMD kernels split some sums by thread) or the SIMD
     * backend from the reference (4e-2), so no float run of AdamW can be held to 1e-4 against another summation
     * order. The replicas' bit-identity is checked in every run, any optimizer.
     */
    @Test
    void twoRanksOfOneThreadEqualOneProcessOfTwoAtTheSameGlobalBatch() throws Exception {
        CrateCliTest.Run single = CrateCliTest.run("train", "--data", data.toString(), "--epochs", "3", "--batch", "64",
                "--optimizer", "sgd", "--lr", "0.005", "--threads", "2", "--backend", "simd", "--out",
                dir.resolve("single").toString());
        assertEquals(0, single.code(), single.err());
        String out = run(dir.resolve("ranks.log"), train(dir.resolve("ranks"), "--optimizer", "sgd", "--lr",
                "0.005"));
        assertTrue(out.contains("data-parallel on Open MPI") && out.contains("32 images of each global batch of 64"), out);
        assertTrue(out.contains("all-reduce: 30 exchanges") && out.contains("replicas identical"), out);
        assertTrue(out.contains("done: 30 steps"), out);
        Map<String, StoredTensor> one = weights(dir.resolve("single/last.safetensors")),
                two = weights(dir.resolve("ranks/last.safetensors"));
        assertEquals(one.keySet(), two.keySet());
        double worst = 0;
        for (String key : one.keySet()) {
            float[] a = one.get(key).floats(), b = two.get(key).floats();
            double diff = 0, norm = 0;
            for (int i = 0; i < a.length; i++) {
                diff += Math.pow(a[i] - b[i], 2);
                norm += Math.pow(a[i], 2);
            }
            assertTrue(Math.sqrt(diff / norm) <= 1e-4, key + ": relative L2 " + Math.sqrt(diff / norm));
            worst = Math.max(worst, Math.sqrt(diff / norm));
        }
        System.out.printf("2 ranks vs 1 process after 30 steps: largest relative L2 of a tensor %.2g%n", worst);
    }

    @Test
    void aStoppedAndResumedJobEndsWithTheUninterruptedBits() throws Exception {
        run(dir.resolve("straight.log"), train(dir.resolve("straight")));
        String stopped = run(dir.resolve("stopped.log"), train(dir.resolve("resumed"), "--minutes", "0.05"));
        assertTrue(stopped.contains("stopped at step"), "the time limit stops it mid-run: " + stopped);
        String resumed = run(dir.resolve("resumed.log"), train(dir.resolve("resumed"), "--resume"));
        assertTrue(resumed.contains("done: 30 steps"), resumed);
        Map<String, StoredTensor> a = new TreeMap<>(Checkpoints.read(dir.resolve("straight/last.safetensors")).tensors()),
                b = new TreeMap<>(Checkpoints.read(dir.resolve("resumed/last.safetensors")).tensors());
        assertEquals(a, b, "weights and optimizer state, bit for bit");
    }

    @Test
    void killingOneRankEndsTheJobWithinAMinute() throws Exception {
        Path log = dir.resolve("killed.log");
        Process p = start(log, train(dir.resolve("killed"), "--epochs", "100"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.readString(log).contains("training fmnist-small") && System.nanoTime() < deadline) Thread.sleep(200);
        Thread.sleep(1500);   // into the steps
        List<ProcessHandle> ranks = p.descendants().filter(h -> h.info().command().orElse("").endsWith("java")).toList();
        assertEquals(2, ranks.size(), "two rank JVMs under mpirun: " + ranks);
        long killed = System.nanoTime();
        ranks.get(1).destroyForcibly();   // SIGKILL
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the job outlived a killed rank by a minute");
        assertNotEquals(0, p.exitValue(), Files.readString(log));
        System.out.printf("job ended %.1f s after a rank was killed%n", (System.nanoTime() - killed) / 1e9);
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        Path last = dir.resolve("killed/last.safetensors");   // written atomically, so whatever is there loads
        if (Files.exists(last)) assertTrue(Checkpoints.read(last).tensors().containsKey("cls_token"));
    }

    @Test
    void aGlobalBatchThatDoesNotSplitIsRefusedNamingBothNumbers() throws Exception {
        Path log = dir.resolve("odd.log");
        Process p = start(log, train(dir.resolve("odd"), "--batch", "63"));
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String out = Files.readString(log);
        assertNotEquals(0, p.exitValue(), out);
        assertTrue(out.contains("--batch 63 is the global batch and must divide by the 2 processes"), out);
    }
}
