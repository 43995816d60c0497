/**
 * Data-parallel training across processes and machines on Open MPI: {@link ai.crate.mpi.OpenMpi}, the
 * {@link ai.crate.model.dist.Collective} bound to {@code libmpi.so.40} with the JDK's FFM API.
 */
package ai.crate.mpi;
