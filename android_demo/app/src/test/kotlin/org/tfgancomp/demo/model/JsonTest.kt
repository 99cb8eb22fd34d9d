package org.tfgancomp.demo.model

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class JsonTest {
    @Test
    fun parsesEveryValueKind() {
        val value = Json.parse(
            """ {"a": [1, -2.5, 3e2, true, false, null], "s": "x\"\\\/\n\u00e9", "o": {}, "l": []} """,
        ) as Map<*, *>
        assertEquals(listOf(1.0, -2.5, 300.0, true, false, null), value["a"])
        assertEquals("x\"\\/\n\u00e9", value["s"])
        assertEquals(emptyMap<String, Any?>(), value["o"])
        assertEquals(emptyList<Any?>(), value["l"])
    }

    @Test
    fun keepsKeyOrderAndNull() {
        val value = Json.parse("""{"z": 1, "a": null}""") as Map<*, *>
        assertEquals(listOf("z", "a"), value.keys.toList())
        assertTrue(value.containsKey("a"))
        assertNull(value["a"])
    }

    @Test
    fun rejectsMalformedInputWithAnOffset() {
        for (bad in listOf("", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"unterminated", "[1] x", "{\"a\":1,}", "\"\\u12\"")) {
            val e = assertThrows(bad, JsonException::class.java) { Json.parse(bad) }
            assertTrue(e.message!!, e.message!!.startsWith("invalid JSON at offset"))
        }
    }
}
