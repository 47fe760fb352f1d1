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
  // Notebook pages (mkdocs-jupyter) keep their Markdown cells' math as $...$ and $$...$$.
  for (const notebook of body.querySelectorAll(".jupyter-wrapper")) {
    renderMathInElement(notebook, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "$", right: "$", display: false },
      ],
      ignoredClasses: ["jp-CodeCell"],
      throwOnError: false,
    });
  }
});
