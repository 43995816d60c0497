package ai.crate.model.data;

import java.util.List;
import java.util.Objects;

/**
 * What a {@link BatchLoader} draws from: {@code size()} labelled images that come out as channels × height × width
 * (the model's input), each stored as a {@link Picture} that may be larger when the augmentation crops and resizes.
 * In memory ({@link ImageDataset}) or decoded from files ({@link FolderImages}). Thread-safe for reading.
 */
public interface ImageSource {
    String name();

    int size();

    int channels();

    int height();

    int width();

    int numClasses();

    /** One name per class, or empty when the data set does not say. */
    List<String> classNames();

    int label(int i);

    /** Image i as stored, [C, h, w] with C = {@link #channels()}; h × w is height × width unless resized crops apply. */
    Picture picture(int i);

    /** False when pictures are decoded on demand, so the loader builds a batch's images in parallel. */
    default boolean inMemory() { return true; }

    /** Floats per image of a batch: C·H·W. */
    default int imageBytes() { return channels() * height() * width(); }

    /** The name of class {@code label}, or the number itself when names are unknown. */
    default String className(int label) {
        Objects.checkIndex(label, numClasses());
        return classNames().isEmpty() ? Integer.toString(label) : classNames().get(label);
    }
}
