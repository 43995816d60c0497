package ai.crate.model.train;

import ai.crate.model.data.Augmentation;
import ai.crate.model.optim.AdamW;
import ai.crate.model.optim.Lion;
import ai.crate.model.optim.Optimizer;
import ai.crate.model.optim.Param;
import ai.crate.model.optim.Schedule;
import ai.crate.model.optim.Sgd;
import java.util.List;
import java.util.Locale;

/**
 * Training policy by name, shared by every trainer front end (the command line's {@code train} and {@code train-mae},
 * or your own code): the optimizers and their default learning rates, the schedules, the run length in steps, and
 * the augmentation each data set gets. Arguments are checked here, each error naming the option it came from.
 */
public final class Recipes {
    private Recipes() {}

    public static final List<String> OPTIMIZERS = List.of("adamw", "lion", "sgd");
    public static final List<String> SCHEDULES = List.of("cosine", "constant");

    /** The peak learning rate an optimizer gets unless told: 2e-3 AdamW, 2e-4 Lion, 0.05 SGD. */
    public static float defaultLearningRate(String optimizer) {
        return switch (optimizerName(optimizer)) {
            case "lion" -> 2e-4f;
            case "sgd" -> 0.05f;
            default -> 2e-3f;
        };
    }

    /**
     * {@code adamw}, {@code lion} or {@code sgd} (momentum and Nesterov apply to SGD only), at {@code lr}, or the
     * optimizer's default when null, with decoupled weight decay.
     */
    public static Optimizer optimizer(String name, List<Param> params, Float lr, float weightDecay, float momentum,
                                      boolean nesterov) {
        String n = optimizerName(name);
        float rate = lr != null ? lr : defaultLearningRate(n);
        if (!(rate > 0) || !Float.isFinite(rate)) throw new IllegalArgumentException("--lr must be > 0, got " + rate);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("--weight-decay must be >= 0, got " + weightDecay);
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("--momentum must be in [0, 1), got " + momentum);
        return switch (n) {
            case "lion" -> new Lion(params, rate, weightDecay);
            case "sgd" -> new Sgd(params, rate, momentum, nesterov, weightDecay);
            default -> new AdamW(params, rate, weightDecay);
        };
    }

    private static String optimizerName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (!OPTIMIZERS.contains(n)) throw new IllegalArgumentException("--optimizer must be one of " + OPTIMIZERS + ", got '" + name + "'");
        return n;
    }

    /** Optimizer steps in a run of {@code epochs} epochs, at most {@code maxSteps} when that is positive. */
    public static long totalSteps(long stepsPerEpoch, int epochs, long maxSteps) {
        if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
        if (maxSteps < 0) throw new IllegalArgumentException("--steps must be >= 0 (0 = no limit), got " + maxSteps);
        long all = stepsPerEpoch * epochs;
        return maxSteps > 0 ? Math.min(maxSteps, all) : all;
    }

    /** Warmup steps: {@code warmup} when it is given (>= 0), else one epoch (at most the whole run). */
    public static long warmupSteps(long warmup, long stepsPerEpoch, long totalSteps) {
        if (warmup < -1) throw new IllegalArgumentException("--warmup must be >= 0 steps (or -1: one epoch), got " + warmup);
        if (warmup > totalSteps) {
            throw new IllegalArgumentException("--warmup " + warmup + " is longer than the run's " + totalSteps + " steps");
        }
        return warmup >= 0 ? warmup : Math.min(stepsPerEpoch, totalSteps);
    }

    /** {@code cosine}: linear warmup, then cosine decay to 0 at the last step; {@code constant}: warmup, then flat. */
    public static Schedule schedule(String name, float lr, long warmup, long totalSteps) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "cosine" -> Schedule.warmupCosine(lr, warmup, totalSteps, 0f);
            case "constant" -> warmup == 0 ? Schedule.constant(lr) : Schedule.warmupCosine(lr, warmup, warmup, lr);
            default -> throw new IllegalArgumentException("--schedule must be one of " + SCHEDULES + ", got '" + name + "'");
        };
    }

    /** The smallest share of the image a random-resized crop keeps unless told: torchvision's default. */
    public static final double DEFAULT_CROP_SCALE = 0.08;

    /**
     * The augmentation a data set gets: CIFAR's standard pad-4 crop and flip; Fashion-MNIST items flip but are centred,
     * so no crop (a pad-2 crop cost 2 points of accuracy at 8 epochs in a measured comparison, BENCHMARKS.md); MNIST
     * digits neither (a mirrored digit is another symbol); a folder of the user's own images torchvision's ImageNet
     * recipe, a random-resized crop (scale 0.08..1) and flip. {@code cropPad} (null = the data set's) and
     * {@code cropScale} (null = the data set's; a random-resized crop of that smallest share) override, not both;
     * {@code flip} = false turns the flip off.
     */
    public static Augmentation augmentation(String dataset, Integer cropPad, Double cropScale, boolean flip) {
        if (cropPad != null && cropPad < 0) throw new IllegalArgumentException("--crop-pad must be >= 0, got " + cropPad);
        if (cropScale != null && !(cropScale > 0 && cropScale <= 1)) {
            throw new IllegalArgumentException("--crop-scale must be in (0, 1], got " + cropScale);
        }
        if (cropPad != null && cropScale != null) {
            throw new IllegalArgumentException("--crop-pad (pad and crop) and --crop-scale (random-resized crop) "
                    + "are two kinds of crop: give one");
        }
        boolean mirror = flip && !dataset.equals("mnist");
        if (cropScale != null) return Augmentation.randomResizedCrop(cropScale, mirror);
        if (cropPad == null && dataset.equals("folder")) return Augmentation.randomResizedCrop(DEFAULT_CROP_SCALE, mirror);
        int pad = cropPad != null ? cropPad : dataset.startsWith("cifar") ? 4 : 0;
        return new Augmentation(pad, mirror);
    }

    /** {@link #augmentation(String, Integer, Double, boolean)} without a random-resized crop override. */
    public static Augmentation augmentation(String dataset, Integer cropPad, boolean flip) {
        return augmentation(dataset, cropPad, null, flip);
    }
}
