// Evidence upload: a file over the form's limit is refused before it is sent, with the reason on the field.
"use strict";
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.maxBytes) return;
  const max = Number(input.dataset.maxBytes);
  const file = input.files && input.files[0];
  input.setCustomValidity(file && file.size > max ? "This file is larger than this form accepts (see the limit above)." : "");
  input.reportValidity();
});
