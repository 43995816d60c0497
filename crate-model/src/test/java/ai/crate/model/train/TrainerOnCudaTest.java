package ai.crate.model.train;

import ai.crate.engine.Backend;
import ai.crate.model.TestBackends;

/**
 * The whole trainer (batches uploaded each step, fused AdamW, evaluation, checkpoints written from and read back to
 * device memory, exact resume) on the CUDA backend, its kernels run by the CPU emulator.
 */
class TrainerOnCudaTest extends TrainerTest {
    @Override
    protected Backend backend() { return TestBackends.named("cuda-emulated"); }
}
