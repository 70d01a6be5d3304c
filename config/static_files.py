"""/static/ served by WhiteNoise in every settings module, whatever DEBUG says (nginx serves it at the edge too).

WhiteNoise's middleware is synchronous only. Under ASGI, Django would then run every request, /readyz and the
async views included, through the one shared thread for synchronous code, where it waits behind any ORM call that
is waiting on a lock. This wrapper keeps the chain asynchronous: a file is looked up in WhiteNoise's table and
opened in a worker thread of its own; anything else goes straight on.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.utils.decorators import sync_and_async_middleware
from whitenoise.middleware import WhiteNoiseMiddleware


@sync_and_async_middleware
def static_files(get_response):
    whitenoise = WhiteNoiseMiddleware(get_response)
    if not iscoroutinefunction(get_response):
        return whitenoise

    def find(path: str):
        return whitenoise.find_file(path) if whitenoise.autorefresh else whitenoise.files.get(path)

    def serve(request):
        static_file = find(request.path_info)
        return None if static_file is None else whitenoise.serve(static_file, request)

    serve_in_thread = sync_to_async(serve, thread_sensitive=False)

    async def middleware(request):
        if request.path_info.startswith(whitenoise.static_prefix):
            response = await serve_in_thread(request)
            if response is not None:
                return response
        return await get_response(request)

    return middleware
