package org.tfgancomp.demo.model

import org.junit.Assert.assertEquals
import org.junit.Test
import kotlin.time.Duration.Companion.milliseconds

class FrameTimingTest {
    @Test
    fun formatsMillisecondsPerStage() {
        val t = FrameTiming.ofNanos(1_250_000, 14_000_000, 800_000)
        assertEquals("pre 1.3 ms · inference 14.0 ms · post 0.8 ms", t.format())
        assertEquals(16.05.milliseconds, t.total)
    }
}
