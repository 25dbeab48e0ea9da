"""The dashboard's static assets (index.html, app.js, style.css), hand-written: no CDN, no map tiles."""
