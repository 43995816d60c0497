package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The required {@link Backend} methods are the primitive ops: nothing of a model layer or an optimizer. Those live
 * in {@link FusedOps}, composed from the primitives, which a backend overrides only where it has faster kernels.
 */
class BackendInterfaceTest {
    private static final Pattern LAYER_OR_OPTIMIZER =
            Pattern.compile("(?i).*(mssa|mhsa|ista|attention|adam|lion|sgd|step|sumOfSquares|scaleAll).*");

    @Test
    void backendDeclaresNoLayerOrOptimizerOp() {
        List<String> offending = Arrays.stream(Backend.class.getDeclaredMethods()).map(Method::getName)
                .filter(n -> LAYER_OR_OPTIMIZER.matcher(n).matches()).toList();
        assertEquals(List.of(), offending, "Backend methods that belong in FusedOps");
    }

    @Test
    void everyFusedOpHasAComposedDefault() {
        Set<String> fused = new TreeSet<>();
        for (Method m : FusedOps.class.getDeclaredMethods()) {
            if (Modifier.isPublic(m.getModifiers()) && !m.getName().equals("backend")) fused.add(m.getName());
            assertTrue(!Modifier.isAbstract(m.getModifiers()), m.getName() + " has no composed default");
        }
        assertEquals(new TreeSet<>(List.of("mssaForward", "mssaBackward", "mhsaForward", "mhsaBackward", "istaForward", "istaBackward", "istaMatrix",
                "overcompleteIstaForward", "overcompleteIstaBackward",
                "sumOfSquaresInto", "scaleAll", "adamWStep", "adamWSteps", "lionStep", "lionSteps", "sgdStep",
                "sgdSteps")), fused);
    }
}
