package ai.crate.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.crate.engine.BackendContractTest;
import ai.crate.model.crate.Crate;
import ai.crate.model.family.Checkpoints;
import ai.crate.model.family.LoadOptions;
import ai.crate.model.io.SafeTensors;
import ai.crate.model.io.StoredTensor;
import ai.crate.model.io.TensorFile;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The commands end to end, in process, on the PyTorch parity fixtures of crate-model. */
class CrateCliTest {
    static final Path FIXTURES = Path.of("../crate-model/src/test/resources/parity");

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = CrateCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static final Path VIT_FIXTURES = Path.of("../crate-model/src/test/resources/vit");

    /** Splits a fixture into a model checkpoint (parameters only) and an input file (images, labels). */
    private Path[] split(String name) throws Exception { return split(FIXTURES, name); }

    private Path[] split(Path folder, String name) throws Exception {
        TensorFile f = SafeTensors.read(folder.resolve(name + ".safetensors"));
        Map<String, StoredTensor> params = new LinkedHashMap<>(), input = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> {
            if (k.equals("images") || k.equals("labels")) input.put(k, v);
            else if (!k.startsWith("grad.") && !k.startsWith("after.")
                    && !List.of("logits", "loss", "coding_rate", "sparsity", "train_logits", "pi", "cls_attention").contains(k)) {
                params.put(k, v);
            }
        });
        Path model = dir.resolve(name + "-model.safetensors"), in = dir.resolve(name + "-input.safetensors");
        SafeTensors.write(model, params, f.metadata());
        SafeTensors.write(in, input, Map.of());
        return new Path[] {model, in};
    }

    @Test
    void forwardWithGradsReproducesPyTorch() throws Exception {
        for (String name : new String[] {"parity_a", "parity_b"}) {
            Path[] files = split(name);
            assertForwardWithGrads(FIXTURES.resolve(name + ".safetensors"), name, files[1], files[0].toString());
        }
    }

    /** A timm-keyed ViT release file (DeiT layout: 'model', 'module.' prefixes), no metadata, the head count given. */
    @Test
    void forwardWithGradsOnATimmKeyedPthReproducesPyTorch() throws Exception {
        assertForwardWithGrads(VIT_FIXTURES.resolve("vit_token.safetensors"), "vit_token",
                split(VIT_FIXTURES, "vit_token")[1], VIT_FIXTURES.resolve("vit_token.pth").toString(), "--heads", "3");
        assertForwardWithGrads(VIT_FIXTURES.resolve("vit_avg.safetensors"), "vit_avg",
                split(VIT_FIXTURES, "vit_avg")[1], VIT_FIXTURES.resolve("vit_avg.pth").toString(), "--heads", "4");
    }

    static final Path ALPHA_FIXTURES = Path.of("../crate-model/src/test/resources/alpha");

    /** An official-keyed CRATE-α state dict (no metadata): the architecture found from its keys, the heads given. */
    @Test
    void forwardWithGradsOnACrateAlphaPthReproducesPyTorch() throws Exception {
        assertForwardWithGrads(ALPHA_FIXTURES.resolve("alpha_rgb.safetensors"), "alpha_rgb",
                split(ALPHA_FIXTURES, "alpha_rgb")[1], ALPHA_FIXTURES.resolve("alpha_rgb.pth").toString(), "--heads", "2");
        assertForwardWithGrads(ALPHA_FIXTURES.resolve("alpha_grey.safetensors"), "alpha_grey",
                split(ALPHA_FIXTURES, "alpha_grey")[1], ALPHA_FIXTURES.resolve("alpha_grey.pth").toString(), "--heads",
                "3");
    }

    static final Path TOST_FIXTURES = Path.of("../crate-model/src/test/resources/tost");

    /**
     * ToST's .pth (int64 num_batches_tracked, no metadata): eval mode, BatchNorm on its running statistics; its
     * attention maps are the membership Π.
     */
    @Test
    void forwardWithGradsOnAToStPthReproducesPyTorchInEvalMode() throws Exception {
        assertForwardWithGrads(TOST_FIXTURES.resolve("tost_p8.safetensors"), "tost_p8",
                split(TOST_FIXTURES, "tost_p8")[1], TOST_FIXTURES.resolve("tost_p8.pth").toString(), "--heads", "3");
        Path model = split(TOST_FIXTURES, "tost_p16")[0];
        Path maps = dir.resolve("maps");
        Path picture = dir.resolve("item.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_BYTE_GRAY),
                "png", picture.toFile());
        Run attention = run("attention", "--checkpoint", model.toString(), "--layer", "1", "--out", maps.toString(),
                picture.toString());
        assertEquals(0, attention.code(), attention.err());
        assertTrue(attention.out().contains("TSSA 1") && Files.exists(maps.resolve("item-L1-heads.png")), attention.out());
    }

    private void assertForwardWithGrads(Path fixture, String name, Path input, String... checkpoint) throws Exception {
        Path out = dir.resolve(name + "-out.safetensors");
        List<String> args = new ArrayList<>(List.of("forward", "--checkpoint"));
        args.addAll(List.of(checkpoint));
        args.addAll(List.of("--input", input.toString(), "--output", out.toString(), "--grads", "--backend", "simd"));
        Run r = run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        TensorFile got = SafeTensors.read(out), want = SafeTensors.read(fixture);
        BackendContractTest.assertClose(name + " logits", want.tensors().get("logits").floats(),
                got.tensors().get("logits").floats(), 1e-4, 0);
        assertEquals(want.tensors().get("loss").floats()[0], got.tensors().get("loss").floats()[0], 1e-5);
        long grads = want.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count();
        assertEquals(grads, got.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count());
        for (String k : want.tensors().keySet()) {
            if (!k.startsWith("grad.")) continue;
            float[] w = want.tensors().get(k).floats(), g = got.tensors().get(k).floats();
            double diff = 0, norm = 0;
            for (int i = 0; i < w.length; i++) { diff += Math.pow(g[i] - w[i], 2); norm += w[i] * w[i]; }
            assertTrue(Math.sqrt(diff / norm) <= 1e-3, name + " " + k);
        }
    }

    @Test
    void forwardOnTheOfficialPthNeedsTheHeadCount() throws Exception {
        Path in = split("parity_a")[1], out = dir.resolve("pth-out.safetensors");
        String pth = FIXTURES.resolve("parity_a.pth").toString();
        Run missing = run("forward", "--checkpoint", pth, "--input", in.toString(), "--output", out.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("parity_a.pth") && missing.err().contains("--heads"), missing.err());
        assertFalse(Files.exists(out), "nothing written on failure");
        Run ok = run("forward", "--checkpoint", pth, "--heads", "3", "--input", in.toString(), "--output", out.toString());
        assertEquals(0, ok.code(), ok.err());
        BackendContractTest.assertClose("pth logits",
                SafeTensors.read(FIXTURES.resolve("parity_a.safetensors")).tensors().get("logits").floats(),
                SafeTensors.read(out).tensors().get("logits").floats(), 1e-4, 0);
    }

    @Test
    void forwardRejectsInputsThatDoNotFitTheModel() throws Exception {
        Path model = split("parity_a")[0];
        Path in = dir.resolve("bad.safetensors");
        SafeTensors.write(in, Map.of("images", StoredTensor.f32(new int[] {1, 3, 12, 12}, new float[432])), Map.of());
        Run r = run("forward", "--checkpoint", model.toString(), "--input", in.toString(), "--output",
                dir.resolve("o.safetensors").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("[1, 3, 12, 12]") && r.err().contains("[batch, 1, 12, 12]"), r.err());
        Run noLabels = run("forward", "--checkpoint", model.toString(), "--input", model.toString(), "--output",
                dir.resolve("o.safetensors").toString(), "--grads");
        assertEquals(2, noLabels.code());
        assertTrue(noLabels.err().contains("'images'"), noLabels.err());
    }

    @Test
    void infoReportsConfigParametersAndFlops() throws Exception {
        Path model = split("parity_b")[0];
        Run r = run("info", "--checkpoint", model.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals(32, o.get("dim").getAsInt());
        assertEquals(4, o.get("heads").getAsInt());
        assertEquals("mean", o.get("pool").getAsString());
        Crate crate = Checkpoints.load(model, new ai.crate.engine.ReferenceBackend(), LoadOptions.defaults(), Crate.class);
        long count = crate.namedParameters().values().stream().mapToLong(v -> v.value().size()).sum();
        assertEquals(count, o.get("parameters").getAsLong());
        assertTrue(o.get("forward_gflops_per_image").getAsDouble() > 0);
        Run text = run("info", "--config", "fmnist-small");
        assertTrue(text.out().contains("fmnist-small") && text.out().matches("(?s).*\\bdim +192\\n.*"), text.out());
        Run alpha = run("info", "--config", "crate-alpha-base", "--json");
        JsonObject a = JsonParser.parseString(alpha.out()).getAsJsonObject();
        assertEquals("crate-alpha", a.get("architecture").getAsString());
        assertEquals(4, a.get("overcomplete").getAsInt());
    }

    @Test
    void deviceOptionPicksTheCpuOrSaysWhyCudaCannotRun() {
        String[] bench = {"bench", "--config", "fmnist-small", "--batch", "2", "--warmup", "0", "--runs", "1",
                "--steps", "1", "--json", "--device"};
        Run cpu = run(concat(bench, "cpu"));
        assertEquals(0, cpu.code(), cpu.err());
        assertEquals("simd", JsonParser.parseString(cpu.out()).getAsJsonObject().get("backend").getAsString());
        var probe = ai.crate.engine.Backends.probes().get("cuda");
        Run cuda = run(concat(bench, "cuda"));
        if (probe.available()) {
            assertEquals(0, cuda.code(), cuda.err());
            assertEquals("cuda", JsonParser.parseString(cuda.out()).getAsJsonObject().get("backend").getAsString());
        } else {
            assertEquals(2, cuda.code(), "asking for an unavailable GPU is an error, not a silent CPU run");
            assertTrue(cuda.err().contains("'cuda' is unavailable") && cuda.err().contains(probe.reason()), cuda.err());
        }
        Run bad = run(concat(bench, "tpu"));
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("tpu") && bad.err().contains("cuda, cpu"), bad.err());
    }

    @Test
    void devicesListsEveryBackendWithItsProbe() {
        Run r = run("devices", "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        for (String name : new String[] {"cuda", "simd", "reference"}) {
            JsonObject row = o.getAsJsonObject(name);
            assertEquals(ai.crate.engine.Backends.probes().get(name).available(), row.get("available").getAsBoolean());
            assertTrue(!row.get("reason").getAsString().isBlank(), name + " has a reason");
        }
        assertEquals(List.of("cuda", "simd", "reference"), List.copyOf(o.keySet()), "best first");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void benchPrintsOneJsonObject() {
        Run r = run("bench", "--config", "fmnist-small", "--batch", "2", "--warmup", "1", "--runs", "2", "--steps",
                "1", "--json", "--backend", "simd");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        for (String k : new String[] {"train_img_s", "infer_img_s", "peak_heap_mb", "train_alloc_mb_per_step"}) {
            assertTrue(o.get(k).getAsDouble() > 0, k + " in " + r.out());   // a train step's tape is on the heap
        }
        assertTrue(o.get("infer_alloc_mb_per_step").getAsDouble() >= 0, r.out());
        assertEquals(2, o.get("batch").getAsInt());
        Run inferOnly = run("bench", "--config", "fmnist-small", "--batch", "2", "--warmup", "0", "--runs", "1",
                "--steps", "1", "--json", "--no-train", "--backend", "simd");
        assertEquals(0, inferOnly.code(), inferOnly.err());
        JsonObject i = JsonParser.parseString(inferOnly.out()).getAsJsonObject();
        assertTrue(i.get("infer_img_s").getAsDouble() > 0 && !i.has("train_img_s") && !i.has("train_alloc_mb_per_step")
                && i.has("infer_alloc_mb_per_step"), inferOnly.out());
        Run bad = run("bench", "--config", "no-such-model");
        assertEquals(2, bad.code());
        assertTrue(Stream.of("no-such-model", "fmnist-small").allMatch(bad.err()::contains), bad.err());
    }

    @Test
    void forwardMaeReproducesPyTorch() throws Exception {
        Path fixtures = Path.of("../crate-model/src/test/resources/mae");
        TensorFile f = SafeTensors.read(fixtures.resolve("mae_b.safetensors"));
        Map<String, StoredTensor> params = new LinkedHashMap<>(), input = new LinkedHashMap<>();
        f.tensors().forEach((k, v) -> {
            if (k.equals("images") || k.equals("noise")) input.put(k, v);
            else if (!k.startsWith("grad.") && !k.equals("mask") && !k.equals("pred") && !k.equals("loss")) params.put(k, v);
        });
        Path model = dir.resolve("mae.safetensors"), in = dir.resolve("mae-in.safetensors"), out = dir.resolve("mae-out.safetensors");
        SafeTensors.write(model, params, Map.of());                      // no metadata: heads from the command line
        SafeTensors.write(in, input, Map.of());
        Run noHeads = run("forward-mae", "--checkpoint", model.toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals(2, noHeads.code());
        assertTrue(noHeads.err().contains("--heads"), noHeads.err());
        // norm_pix_loss is not in a metadata-less file either, and mae_b uses it: give the metadata but not the heads
        Map<String, String> meta = new LinkedHashMap<>(f.metadata());
        meta.remove("heads");
        SafeTensors.write(model, params, meta);
        Run r = run("forward-mae", "--checkpoint", model.toString(), "--heads", "3", "--input", in.toString(), "--output",
                out.toString(), "--grads");
        assertEquals(0, r.code(), r.err());
        TensorFile got = SafeTensors.read(out);
        assertArrayEquals(f.tensors().get("mask").floats(), got.tensors().get("mask").floats());
        BackendContractTest.assertClose("pred", f.tensors().get("pred").floats(), got.tensors().get("pred").floats(), 1e-4, 0);
        assertEquals(f.tensors().get("loss").floats()[0], got.tensors().get("loss").floats()[0], 1e-5);
        long grads = f.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count();
        assertEquals(grads, got.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count());
    }
}
