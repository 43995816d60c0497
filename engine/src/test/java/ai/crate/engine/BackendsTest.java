package ai.crate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The backend registry: discovery, lookup by name, probe results. */
class BackendsTest {

    @Test
    void findsTheReferenceBackend() {
        Backend b = Backends.get("reference");
        assertInstanceOf(ReferenceBackend.class, b);
        assertEquals("reference", b.name());
        assertSame(b, Backends.get("reference"), "a backend is created once");
    }

    @Test
    void unknownNameIsAnErrorListingTheKnownBackends() {
        IllegalArgumentException e = BackendContractTest.assertRejects(() -> Backends.get("nope"), "nope",
                "reference");
        assertNotNull(e.getMessage());
    }

    @Test
    void probesReportReferenceAvailable() {
        Map<String, BackendProvider.Probe> probes = Backends.probes();
        BackendProvider.Probe p = probes.get("reference");
        assertNotNull(p, "probes " + probes.keySet() + " lack reference");
        assertTrue(p.available());
        assertFalse(p.reason().isBlank(), "a probe gives its reason");
        // the map is a copy: changing it does not change the registry
        probes.clear();
        assertTrue(Backends.probes().containsKey("reference"));
    }

    @Test
    void defaultIsAnAvailableBackend() {
        Backend d = Backends.getDefault();
        assertTrue(Backends.probes().get(d.name()).available());
        assertSame(d, Backends.getDefault());
    }

    @Test
    void referenceProviderDescribesItself() {
        ReferenceBackendProvider p = new ReferenceBackendProvider();
        assertEquals("reference", p.name());
        assertEquals(0, p.priority());
        assertTrue(p.probe().available());
        assertInstanceOf(ReferenceBackend.class, p.create());
    }
}
