package org.tfgancomp.demo.model

/**
 * Packed 32-bit ARGB colours, the layout of Android's `Bitmap.getPixels` / `setPixels`, in plain Kotlin.
 *
 * The shifts and masks are the ARGB_8888 layout itself (four 8-bit channels), not anything about a model.
 */
object Argb {
    const val CHANNEL_MAX = 255
    private const val MASK = 0xFF
    private const val ALPHA_SHIFT = 24
    private const val RED_SHIFT = 16
    private const val GREEN_SHIFT = 8
    private const val BITS_PER_CHANNEL = 8

    /** Colour components of a pixel (red, green, blue; alpha is not one of them). */
    const val COMPONENTS = 3

    /** Opaque black. */
    const val OPAQUE_BLACK = MASK shl ALPHA_SHIFT

    fun pack(red: Int, green: Int, blue: Int): Int =
        (MASK shl ALPHA_SHIFT) or
            ((red and MASK) shl RED_SHIFT) or
            ((green and MASK) shl GREEN_SHIFT) or
            (blue and MASK)

    fun red(argb: Int): Int = (argb ushr RED_SHIFT) and MASK

    fun green(argb: Int): Int = (argb ushr GREEN_SHIFT) and MASK

    fun blue(argb: Int): Int = argb and MASK

    /** Colour component [index] of a pixel: 0 red, 1 green, 2 blue. */
    fun component(argb: Int, index: Int): Int = (argb ushr (RED_SHIFT - index * BITS_PER_CHANNEL)) and MASK

    /** [argb] with component [index] (0 red, 1 green, 2 blue) replaced by [value] (clamped to 0..255). */
    fun withComponent(argb: Int, index: Int, value: Int): Int {
        val shift = RED_SHIFT - index * BITS_PER_CHANNEL
        return (argb and (MASK shl shift).inv()) or (value.coerceIn(0, CHANNEL_MAX) shl shift)
    }

    /** Rec. 601 luma of an ARGB colour, 0..[CHANNEL_MAX] (for single-channel models). */
    fun luma(argb: Int): Double = LUMA_RED * red(argb) + LUMA_GREEN * green(argb) + LUMA_BLUE * blue(argb)

    /** Squared RGB distance between two colours (to map a drawn colour to the nearest palette entry). */
    fun distance2(a: Int, b: Int): Int {
        val dr = red(a) - red(b)
        val dg = green(a) - green(b)
        val db = blue(a) - blue(b)
        return dr * dr + dg * dg + db * db
    }

    // ITU-R BT.601 luma weights.
    private const val LUMA_RED = 0.299
    private const val LUMA_GREEN = 0.587
    private const val LUMA_BLUE = 0.114
}
