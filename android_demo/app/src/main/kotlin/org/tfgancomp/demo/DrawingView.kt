package org.tfgancomp.demo

import android.annotation.SuppressLint
import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Paint
import android.graphics.Path
import android.graphics.Rect
import android.util.AttributeSet
import android.view.MotionEvent
import android.view.View

/**
 * The sketch canvas: strokes are drawn into an offscreen bitmap at the view's resolution, with the aspect ratio of
 * the model's input; [onStroke] receives a copy of it after every finished stroke.
 *
 * Stroke widths are given in *model input pixels* (resources `pen_width_model_px` / `eraser_width_model_px`), so
 * a stroke looks the same to a 64×64 and a 512×512 model.
 */
class DrawingView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    /** Called on the UI thread with a snapshot of the sketch after each stroke. */
    var onStroke: ((Bitmap) -> Unit)? = null

    /** Draw with [penColor] (false) or erase with [paperColor] (true). */
    var erasing = false

    var penColor = context.getColor(R.color.pen)
    var paperColor = context.getColor(R.color.paper)

    private var modelWidth = 1
    private var modelHeight = 1
    private var sketch: Bitmap? = null
    private var sketchCanvas: Canvas? = null
    private val path = Path()
    private val strokePaint = Paint().apply {
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.ROUND
        strokeJoin = Paint.Join.ROUND
    }
    private val bitmapPaint = Paint(Paint.FILTER_BITMAP_FLAG)

    /**
     * Sets the model's input size (for the aspect ratio and stroke widths) and whether strokes are anti-aliased
     * (not for label maps, whose pixels must keep exact palette colours); clears the sketch.
     */
    fun configure(inputWidth: Int, inputHeight: Int, antiAlias: Boolean) {
        modelWidth = inputWidth
        modelHeight = inputHeight
        strokePaint.isAntiAlias = antiAlias
        requestLayout()
        clear()
    }

    override fun onMeasure(widthMeasureSpec: Int, heightMeasureSpec: Int) {
        val width = MeasureSpec.getSize(widthMeasureSpec)
        val height = width * modelHeight / modelWidth
        setMeasuredDimension(width, resolveSize(height, heightMeasureSpec))
    }

    override fun onSizeChanged(w: Int, h: Int, oldw: Int, oldh: Int) {
        if (w <= 0 || h <= 0) return
        val old = sketch
        val fresh = Bitmap.createBitmap(w, h, Bitmap.Config.ARGB_8888)
        sketch = fresh
        sketchCanvas = Canvas(fresh).also { canvas ->
            canvas.drawColor(paperColor)
            if (old != null) canvas.drawBitmap(old, null, Rect(0, 0, w, h), bitmapPaint)
        }
        finishStroke() // the first frame, once there is a canvas
    }

    /** Fills the sketch with [paperColor] and reports it (an empty sketch is a frame too). */
    fun clear() {
        sketchCanvas?.drawColor(paperColor)
        invalidate()
        finishStroke()
    }

    /** Replaces the sketch with [image] stretched to the canvas (an example sketch or a photo). */
    fun load(image: Bitmap) {
        val canvas = sketchCanvas ?: return
        canvas.drawColor(paperColor)
        val paint = if (strokePaint.isAntiAlias) bitmapPaint else null // label maps: nearest, exact colours
        canvas.drawBitmap(image, null, Rect(0, 0, width, height), paint)
        invalidate()
        finishStroke()
    }

    /** A copy of the current sketch, or null before the view is laid out. */
    fun snapshot(): Bitmap? = sketch?.copy(Bitmap.Config.ARGB_8888, false)

    override fun onDraw(canvas: Canvas) {
        sketch?.let { canvas.drawBitmap(it, 0f, 0f, null) }
        canvas.drawPath(path, currentPaint())
    }

    private fun currentPaint(): Paint {
        val modelPixel = width.toFloat() / modelWidth
        val widthRes = if (erasing) R.integer.eraser_width_model_px else R.integer.pen_width_model_px
        strokePaint.color = if (erasing) paperColor else penColor
        strokePaint.strokeWidth = modelPixel * resources.getInteger(widthRes)
        return strokePaint
    }

    @SuppressLint("ClickableViewAccessibility") // a drawing surface has no click action to announce
    override fun onTouchEvent(event: MotionEvent): Boolean {
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN -> {
                path.reset()
                path.moveTo(event.x, event.y)
                path.lineTo(event.x, event.y)
            }
            MotionEvent.ACTION_MOVE -> {
                for (i in 0 until event.historySize) path.lineTo(event.getHistoricalX(i), event.getHistoricalY(i))
                path.lineTo(event.x, event.y)
            }
            MotionEvent.ACTION_UP -> {
                path.lineTo(event.x, event.y)
                sketchCanvas?.drawPath(path, currentPaint())
                path.reset()
                finishStroke()
            }
            MotionEvent.ACTION_CANCEL -> path.reset()
            else -> return false
        }
        invalidate()
        return true
    }

    private fun finishStroke() {
        snapshot()?.let { onStroke?.invoke(it) }
    }
}
