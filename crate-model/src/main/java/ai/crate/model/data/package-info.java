/**
 * Training data: the standard image sets read from their usual files ({@link ai.crate.model.data.Datasets}, IDX via
 * {@link ai.crate.model.data.Idx}, CIFAR binary), held as compact unsigned bytes
 * ({@link ai.crate.model.data.ImageDataset}), and served as float batches by a deterministic, resumable loader
 * ({@link ai.crate.model.data.BatchLoader}) with augmentation and normalisation.
 *
 * <p>Every problem with a data file is a {@link ai.crate.model.data.DatasetException} whose message names the file,
 * the byte offset where there is one, and what was expected.
 */
package ai.crate.model.data;
