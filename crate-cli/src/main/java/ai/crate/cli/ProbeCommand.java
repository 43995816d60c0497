package ai.crate.cli;

import ai.crate.autograd.Autograd;
import ai.crate.autograd.F;
import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.mae.CrateMae;
import ai.crate.model.data.Batch;
import ai.crate.model.data.BatchIterator;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.ImageDataset;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Param;
import com.google.gson.GsonBuilder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Linear probe of a CRATE-MAE encoder: frozen features of unmasked images (mean over tokens, or the CLS row),
 * standardised with the training set's statistics, then a softmax-regression classifier trained on them; test
 * accuracy, beside the same probe on a randomly initialised encoder of the same shape.
 */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = "Linear-probe accuracy of a CRATE-MAE encoder, beside a randomly initialised one.")
final class ProbeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    MaeCheckpointOptions weights;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--pool", defaultValue = "mean", description = "mean (over all tokens) or cls (default ${DEFAULT-VALUE}).")
    String pool;

    @Option(names = "--epochs", defaultValue = "10", description = "Probe training epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--limit", defaultValue = "0", description = "Use only the first N training images (0 = all).")
    int limit;

    @Option(names = "--no-baseline", description = "Skip the randomly initialised encoder.")
    boolean noBaseline;

    @Option(names = "--json", description = "One JSON object: top1, top1_random_init, pool, n_train, n_test.")
    boolean json;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        if (!pool.equals("mean") && !pool.equals("cls")) throw new IllegalArgumentException("--pool must be mean or cls");
        OptionChecks.atLeast("--epochs", epochs, 1);
        OptionChecks.atLeast("--limit", limit, 0);
        ImageDataset train = dataOptions.loadStandard(true);
        ImageDataset test = dataOptions.loadStandard(false);
        Backend be = backendOptions.resolve();
        CrateMae trained = weights.load(be);
        double acc = probe(trained, train, test, be);
        Double random = noBaseline ? null : probe(new CrateMae(trained.config(), be, 12345), train, test, be);
        int nTrain = limit > 0 ? Math.min(limit, train.size()) : train.size();
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("top1", acc);
            o.put("top1_random_init", random);
            o.put("pool", pool);
            o.put("n_train", nTrain);
            o.put("n_test", test.size());
            spec.commandLine().getOut().println(new GsonBuilder().serializeNulls().create().toJson(o));
        } else {
            spec.commandLine().getOut().printf("linear probe (%s pooling, %d train / %d test images): %.2f %%%s%n", pool,
                    nTrain, test.size(), 100 * acc, random == null ? "" : String.format(
                            "; randomly initialised encoder: %.2f %%", 100 * random));
        }
        return 0;
    }

    private double probe(CrateMae mae, ImageDataset train, ImageDataset test, Backend be) {
        int d = mae.config().dim(), classes = train.numClasses();
        float[][] trainSet = features(mae, train, be, limit > 0 ? limit : train.size());
        float[][] testSet = features(mae, test, be, test.size());
        standardise(trainSet[0], testSet[0], d);
        int n = trainSet[1].length;
        Variable w = Variable.parameter(be.empty(classes, d)), b = Variable.parameter(be.empty(classes));
        AdamW opt = new AdamW(Param.of(Map.of("weight", w, "bias", b), true), 1e-2f, 1e-4f);
        SplittableRandom r = new SplittableRandom(1);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        int batch = 256;
        for (int e = 0; e < epochs; e++) {
            for (int i = n - 1; i > 0; i--) { int j = r.nextInt(i + 1), t = order[i]; order[i] = order[j]; order[j] = t; }
            for (int s = 0; s + batch <= n; s += batch) {
                float[] x = new float[batch * d];
                int[] y = new int[batch];
                for (int k = 0; k < batch; k++) {
                    System.arraycopy(trainSet[0], order[s + k] * d, x, k * d, d);
                    y[k] = (int) trainSet[1][order[s + k]];
                }
                opt.zeroGrad();
                Variable loss = F.crossEntropy(F.linear(Variable.constant(be.fromArray(x, batch, d)), w, b), y, 0f);
                loss.backward();
                opt.step();
                loss.releaseGraph();
            }
        }
        int correct = 0, m = testSet[1].length;
        try (var noGrad = Autograd.noGrad()) {
            float[] z = F.linear(Variable.constant(be.fromArray(testSet[0], m, d)), w, b).value().toFloatArray();
            for (int i = 0; i < m; i++) {
                int best = 0;
                for (int c = 1; c < classes; c++) if (z[i * classes + c] > z[i * classes + best]) best = c;
                if (best == (int) testSet[1][i]) correct++;
            }
        }
        return (double) correct / m;
    }

    /** Pooled encoder features [n, d] of unmasked images, and their labels (as floats). */
    private float[][] features(CrateMae mae, ImageDataset data, Backend be, int n) {
        int d = mae.config().dim(), tokens = mae.config().numPatches() + 1;
        float[] out = new float[n * d], labels = new float[n];
        BatchLoader loader = BatchLoader.forEvaluation(data, 250, dataOptions.standardNormalization());
        int at = 0;
        try (var noGrad = Autograd.noGrad(); BatchIterator it = loader.evaluation()) {
            while (it.hasNext() && at < n) {
                Batch b = it.next();
                Tensor x = be.fromArray(b.images(), loader.batchShape(b.size()));
                float[] z = mae.encode(x, new float[b.size() * mae.config().numPatches()]).value().toFloatArray();
                be.release(x);
                for (int i = 0; i < b.size() && at < n; i++, at++) {
                    labels[at] = b.labels()[i];
                    for (int t = 0; t < (pool.equals("cls") ? 1 : tokens); t++) {
                        for (int j = 0; j < d; j++) out[at * d + j] += z[(i * tokens + t) * d + j];
                    }
                    if (pool.equals("mean")) for (int j = 0; j < d; j++) out[at * d + j] /= tokens;
                }
            }
        }
        return new float[][] {out, labels};
    }

    /** Each feature to zero mean and unit variance with the training set's statistics. */
    private static void standardise(float[] train, float[] test, int d) {
        int n = train.length / d;
        for (int j = 0; j < d; j++) {
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++) s += train[i * d + j];
            double mean = s / n;
            for (int i = 0; i < n; i++) ss += StrictMath.pow(train[i * d + j] - mean, 2);
            double inv = 1 / Math.sqrt(ss / n + 1e-6);
            for (int i = 0; i < n; i++) train[i * d + j] = (float) ((train[i * d + j] - mean) * inv);
            for (int i = 0; i < test.length / d; i++) test[i * d + j] = (float) ((test[i * d + j] - mean) * inv);
        }
    }
}
