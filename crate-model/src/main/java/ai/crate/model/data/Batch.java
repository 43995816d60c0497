package ai.crate.model.data;

import java.util.Arrays;

/**
 * One batch: {@code size} images as floats [size, C, H, W] (augmented and normalised) and their labels, with where it
 * sits in training, so a trainer can log or checkpoint (epoch, stepInEpoch) and resume from the next step.
 */
public record Batch(float[] images, int[] labels, int size, int epoch, int stepInEpoch) {
    public Batch {
        if (labels.length != size || size == 0 || images.length % size != 0) {
            throw new IllegalArgumentException("batch of " + size + " with " + labels.length + " labels and "
                    + images.length + " floats");
        }
    }

    /** Equal when the contents are: the same images bit for bit, labels and position. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Batch b && size == b.size && epoch == b.epoch && stepInEpoch == b.stepInEpoch
                && Arrays.equals(labels, b.labels) && Arrays.equals(images, b.images);
    }

    @Override
    public int hashCode() { return 31 * (31 * Arrays.hashCode(labels) + Arrays.hashCode(images)) + stepInEpoch; }

    @Override
    public String toString() {
        return "Batch[epoch " + epoch + ", step " + stepInEpoch + ", " + size + " images of " + images.length / size
                + " floats]";
    }
}
