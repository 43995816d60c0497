package ai.crate.mpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The binding under a real {@code mpirun -np 2} ({@link MpiSmoke} checks every collective's result on each rank),
 * an abort that takes the job down at once, and a process started without mpirun being a job of one. Skipped,
 * saying why, where Open MPI is not installed (.ci/run installs it).
 */
class OpenMpiTest {
    private static String mpirun;

    @BeforeAll
    static void needMpirun() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            // by name, as a user runs it: an absolute path makes mpirun derive --prefix from it (/bin → "/": refused)
            if (Files.isExecutable(Path.of(d, "mpirun"))) mpirun = "mpirun";
        }
        if (mpirun == null) System.out.println("OpenMpiTest skipped: no mpirun on the PATH (apt-get install openmpi-bin)");
        Assumptions.assumeTrue(mpirun != null, "no mpirun on the PATH (apt-get install openmpi-bin libopenmpi3)");
    }

    private static Process smoke(int np, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (np > 0) {
            cmd.addAll(List.of(mpirun, "--allow-run-as-root", "--oversubscribe", "--mca", "pml", "ob1", "--mca", "btl",
                    "self,vader,tcp", "-np", Integer.toString(np)));
        }
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                MpiSmoke.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    @Test
    void everyCollectiveGivesTheRightResultOnEveryRank() throws Exception {
        Process p = smoke(2);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("rank 0 of 2 ok: Open MPI v4") && out.contains("rank 1 of 2 ok"), out);
    }

    @Test
    void anAbortOnOneRankEndsTheJobWithItsCode() throws Exception {
        long start = System.nanoTime();
        Process p = smoke(2, "raise");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the job outlived MPI_Abort by a minute");
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(7, p.exitValue(), out);
        assertTrue(out.contains("raising on purpose"), out);
        System.out.printf("MPI_Abort ended the job in %.1f s%n", (System.nanoTime() - start) / 1e9);
    }

    @Test
    void withoutMpirunAProcessIsAJobOfOne() throws Exception {
        Process p = smoke(0);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("rank 0 of 1 ok"), out);
    }
}
