// Render the math that pymdownx.arithmatex marked up, with the KaTeX this site serves itself.
// Material's instant navigation swaps page bodies, so render on every page load it announces.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
});
