// Inlined at the end of every page's <head> by hooks/page_load.py. Material's bundle, as it
// starts, makes two changes that the browser answers by restyling the whole page, which by then
// is long (about 150 ms apiece on a phone for the longest pages). Made here, before the body is
// parsed, they cost nothing, and the bundle then has nothing left to change.

// The root's classes: "no-js" becomes "js" (Material), and "js-focus-visible" comes (the
// focus-visible polyfill in the bundle). A change to the root's class attribute, whatever the
// class, restyles every element: the stylesheet has rules such as `table:not([class]) td`.
document.documentElement.classList.replace("no-js", "js")
document.documentElement.classList.add("js-focus-visible")

// Instant navigation gives every relative link its absolute URL, and for a stylesheet that is a
// new stylesheet. An absolute link it leaves alone.
for (const link of document.querySelectorAll("link[href]")) link.href = link.href
