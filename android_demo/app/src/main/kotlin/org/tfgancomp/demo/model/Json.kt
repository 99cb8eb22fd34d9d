package org.tfgancomp.demo.model

/**
 * A small, strict JSON reader (RFC 8259) in plain Kotlin.
 *
 * Android's `org.json` is not available in local JVM unit tests (its methods are stubs there), so the model
 * description is parsed with this instead. Values become `Map<String, Any?>`, `List<Any?>`, `String`, `Double`,
 * `Boolean` or `null`. Anything malformed raises [JsonException] with the character offset.
 */
class JsonException(message: String) : IllegalArgumentException(message)

object Json {
    /** Parses one JSON document; trailing non-whitespace is an error. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipWhitespace()
        val value = reader.value()
        reader.skipWhitespace()
        if (!reader.atEnd()) reader.fail("unexpected trailing content")
        return value
    }

    private class Reader(private val text: String) {
        private var pos = 0

        fun atEnd() = pos >= text.length

        fun fail(what: String): Nothing = throw JsonException("invalid JSON at offset $pos: $what")

        fun skipWhitespace() {
            while (!atEnd() && text[pos] in " \t\r\n") pos++
        }

        private fun peek(): Char = if (atEnd()) fail("unexpected end of input") else text[pos]

        private fun expect(c: Char) {
            if (peek() != c) fail("expected '$c', found '${peek()}'")
            pos++
        }

        private fun literal(word: String, value: Any?): Any? {
            if (!text.startsWith(word, pos)) fail("unknown literal")
            pos += word.length
            return value
        }

        fun value(): Any? = when (peek()) {
            '{' -> obj()
            '[' -> array()
            '"' -> string()
            't' -> literal("true", true)
            'f' -> literal("false", false)
            'n' -> literal("null", null)
            else -> number()
        }

        private fun obj(): Map<String, Any?> {
            expect('{')
            val out = LinkedHashMap<String, Any?>()
            skipWhitespace()
            if (peek() == '}') {
                pos++
                return out
            }
            while (true) {
                skipWhitespace()
                val key = string()
                skipWhitespace()
                expect(':')
                skipWhitespace()
                out[key] = value()
                skipWhitespace()
                when (peek()) {
                    ',' -> pos++
                    '}' -> {
                        pos++
                        return out
                    }
                    else -> fail("expected ',' or '}' in an object")
                }
            }
        }

        private fun array(): List<Any?> {
            expect('[')
            val out = ArrayList<Any?>()
            skipWhitespace()
            if (peek() == ']') {
                pos++
                return out
            }
            while (true) {
                skipWhitespace()
                out.add(value())
                skipWhitespace()
                when (peek()) {
                    ',' -> pos++
                    ']' -> {
                        pos++
                        return out
                    }
                    else -> fail("expected ',' or ']' in an array")
                }
            }
        }

        private fun string(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                val c = peek()
                pos++
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> out.append(escape())
                    c < ' ' -> fail("control character in a string")
                    else -> out.append(c)
                }
            }
        }

        private fun escape(): Char {
            val c = peek()
            pos++
            return when (c) {
                '"', '\\', '/' -> c
                'b' -> '\b'
                'f' -> '\u000C'
                'n' -> '\n'
                'r' -> '\r'
                't' -> '\t'
                'u' -> {
                    val end = pos + HEX_DIGITS
                    if (end > text.length) fail("truncated \\u escape")
                    val code = text.substring(pos, end).toIntOrNull(HEX_RADIX) ?: fail("bad \\u escape")
                    pos = end
                    code.toChar()
                }
                else -> fail("bad escape '\\$c'")
            }
        }

        private fun number(): Double {
            val start = pos
            if (!atEnd() && text[pos] == '-') pos++
            while (!atEnd() && (text[pos].isDigit() || text[pos] in ".eE+-")) pos++
            val token = text.substring(start, pos)
            if (!NUMBER.matches(token)) {
                pos = start
                fail(if (token.isEmpty()) "unexpected character '${peek()}'" else "bad number '$token'")
            }
            return token.toDouble()
        }
    }

    // The JSON grammar's own constants (a \u escape has four hex digits), not anything about a model.
    private const val HEX_DIGITS = 4
    private const val HEX_RADIX = 16
    private val NUMBER = Regex("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")
}
