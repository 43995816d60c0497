/**
 * Checkpoint file formats: Hugging Face safetensors (read and write) and PyTorch {@code torch.save} zip archives
 * (read), mapped to and from named heap tensors ({@link ai.crate.model.io.StoredTensor}).
 *
 * <p>This layer knows nothing about the model: it does not interpret key names or shapes. Every problem with a file
 * is a {@link ai.crate.model.io.CheckpointException} whose message names the file, the key and the offsets involved.
 */
package ai.crate.model.io;
