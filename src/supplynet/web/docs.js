// The API reference at /docs: Swagger UI from the package's own copy (web/vendor/swagger-ui), no CDN.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null,          // the default validator badge calls an outside service
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
});
