package org.tfgancomp.demo.model

import java.util.Locale
import kotlin.time.Duration
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.DurationUnit

/** Where one frame's time went: sketch → tensor, the interpreter's run, tensor → bitmap. */
data class FrameTiming(val pre: Duration, val inference: Duration, val post: Duration) {
    val total: Duration get() = pre + inference + post

    /** e.g. `pre 1.2 ms · inference 14.0 ms · post 0.8 ms`. */
    fun format(): String = "pre ${ms(pre)} · inference ${ms(inference)} · post ${ms(post)}"

    companion object {
        /** From three `System.nanoTime()` differences. */
        fun ofNanos(pre: Long, inference: Long, post: Long) =
            FrameTiming(pre.nanoseconds, inference.nanoseconds, post.nanoseconds)

        private fun ms(d: Duration): String = String.format(Locale.ROOT, "%.1f ms", d.toDouble(DurationUnit.MILLISECONDS))
    }
}
