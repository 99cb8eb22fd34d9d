package org.tfgancomp.demo.model

import org.junit.Assert.assertEquals
import org.junit.Test

class ArgbTest {
    @Test
    fun packsAndUnpacksLikeAndroidArgb8888() {
        val c = Argb.pack(0x12, 0x34, 0x56)
        assertEquals(0xFF123456.toInt(), c)
        assertEquals(listOf(0x12, 0x34, 0x56), listOf(Argb.red(c), Argb.green(c), Argb.blue(c)))
        assertEquals(listOf(0x12, 0x34, 0x56), (0 until Argb.COMPONENTS).map { Argb.component(c, it) })
        assertEquals(0xFF12AB56.toInt(), Argb.withComponent(c, 1, 0xAB))
        assertEquals(0xFF123400.toInt() or 0, Argb.withComponent(c, 2, -5))
        assertEquals(Argb.OPAQUE_BLACK, Argb.pack(0, 0, 0))
        assertEquals(255.0, Argb.luma(Argb.pack(255, 255, 255)), 1e-9)
    }
}
