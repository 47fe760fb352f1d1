// "The whole file" under a source listing links to #source on the API reference, where the file
// sits in a folded block: unfold it, so the link shows what it promises.
document$.subscribe(() => {
  if (location.hash !== "#source") return;
  const heading = document.getElementById("source");
  const details = heading && heading.nextElementSibling;
  if (details && details.tagName === "DETAILS") details.open = true;
});
