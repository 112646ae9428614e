// The page's live socket (#live-socket, htmx ws extension) and the chat UI around it.
// - resumes from the last seq the page saw after every (re)connect; "Reconnecting…" meanwhile
// - sends chat messages over the socket with a client_id (crypto.randomUUID), shows them as
//   pending until the server's copy arrives, re-sends them after a reconnect; when the socket
//   is down the composer posts over plain HTTP (htmx) with the same client_id
// - typing frames at most every 2 s; typing indicators clear 5 s after the last one
// - marks the open conversation read when a message arrives while the tab is visible
// No inline scripts anywhere (CSP): everything hangs on ids, data attributes and htmx events.
(function () {
  'use strict'

  var TYPING_EVERY_MS = 2000
  var TYPING_SHOWN_MS = 5000
  var HTMX_RECONNECTS = [1006, 1011, 1012, 1013]
  var FINAL_CLOSES = [4001, 4003]

  var socketElt = document.getElementById('live-socket')
  if (!socketElt || !window.htmx) return

  var wrapper = null
  var isOpen = false
  var lastSeq = parseInt(socketElt.dataset.seq || '0', 10) || 0
  var pending = {}
  var typingTimers = {}
  var lastTypingSent = {}
  var reconnectTimer = null
  var readTimer = null
  var openPane = document.querySelector('[data-open-conversation]')
  var openId = openPane ? openPane.dataset.openConversation : null

  function uuid () {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID()
    var b = crypto.getRandomValues(new Uint8Array(16))
    b[6] = (b[6] & 0x0f) | 0x40
    b[8] = (b[8] & 0x3f) | 0x80
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1) }).join('')
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20)
  }

  function send (frame) {
    if (!wrapper || !isOpen) return false
    wrapper.send(JSON.stringify(frame))
    return true
  }

  function setState (state) { socketElt.dataset.state = state }

  // An htmx extension for the socket's messages: drop fragments whose target is not on this
  // page, and messages the page already shows (a replay after a reconnect).
  htmx.defineExtension('live', {
    transformResponse: function (text, xhr) {
      if (xhr) return text
      var tpl = document.createElement('template')
      tpl.innerHTML = text
      Array.prototype.slice.call(tpl.content.children).forEach(function (child) {
        var spec = child.getAttribute('hx-swap-oob') || 'true'
        var colon = spec.indexOf(':')
        var selector = colon > 0 ? spec.slice(colon + 1) : (child.id ? '#' + CSS.escape(child.id) : '')
        if (!selector || !document.querySelector(selector)) {
          child.remove()
          return
        }
        child.querySelectorAll('li.message[id]').forEach(function (li) {
          if (document.getElementById(li.id)) li.remove()
        })
      })
      return tpl.innerHTML
    }
  })

  // --- socket lifecycle

  socketElt.addEventListener('htmx:wsOpen', function (e) {
    wrapper = e.detail.socketWrapper
    isOpen = true
    clearTimeout(reconnectTimer)
    setState('open')
    send({ type: 'resume', after: lastSeq })
    Object.keys(pending).forEach(function (clientId) { send(pending[clientId]) })
    markReadSoon()
  })

  socketElt.addEventListener('htmx:wsClose', function (e) {
    isOpen = false
    var code = e.detail && e.detail.event ? e.detail.event.code : 1006
    if (FINAL_CLOSES.indexOf(code) >= 0) {
      setState('closed')
      return
    }
    setState('reconnecting')
    wrapper = e.detail.socketWrapper || wrapper
    if (HTMX_RECONNECTS.indexOf(code) < 0 && wrapper) {
      // htmx reconnects by itself only after abnormal closes; a clean close (a server
      // restarting) deserves another try too.
      clearTimeout(reconnectTimer)
      reconnectTimer = setTimeout(function () { if (!isOpen) wrapper.reconnect() }, 500 + Math.random() * 1500)
    }
  })

  var stickToBottom = false
  socketElt.addEventListener('htmx:wsBeforeMessage', function () {
    var log = openLog()
    stickToBottom = !!log && log.scrollHeight - log.scrollTop - log.clientHeight < 80
  })

  socketElt.addEventListener('htmx:wsAfterMessage', function () {
    var seqElt = document.getElementById('live-seq')
    var seq = seqElt ? parseInt(seqElt.dataset.seq || '0', 10) : 0
    if (seq > lastSeq) lastSeq = seq
    var resync = document.getElementById('live-resync')
    if (resync && resync.dataset.resync) {
      window.location.reload()
      return
    }
    settlePending()
    armTypingIndicators()
    var log = openLog()
    if (log && (stickToBottom || log.querySelector('li.message.mine:last-child'))) scrollToBottom(log)
    markCurrentRow()
    markReadSoon()
  })

  // --- pending messages

  function addGhost (conversationId, clientId, body) {
    var log = document.getElementById('messages-' + conversationId)
    if (!log) return
    var li = document.createElement('li')
    li.className = 'message mine pending'
    li.id = 'pending-' + clientId
    var text = document.createElement('div')
    text.className = 'message-body'
    text.textContent = body
    li.appendChild(text)
    log.appendChild(li)
    scrollToBottom(log)
  }

  function settlePending () {
    Object.keys(pending).forEach(function (clientId) {
      if (document.querySelector('li.message[data-client-id="' + clientId + '"]')) {
        var ghost = document.getElementById('pending-' + clientId)
        if (ghost) ghost.remove()
        delete pending[clientId]
      }
    })
    var error = document.getElementById('live-error')
    if (error && error.dataset.clientId && pending[error.dataset.clientId]) {
      var failed = document.getElementById('pending-' + error.dataset.clientId)
      if (failed) {
        failed.classList.remove('pending')
        failed.classList.add('failed')
        failed.title = error.textContent
      }
      delete pending[error.dataset.clientId]
    }
  }

  // --- composer: socket first, plain HTTP (htmx) as the fallback

  document.addEventListener('submit', function (e) {
    var form = e.target
    if (!form.matches || !form.matches('form[data-chat-composer]')) return
    var body = form.elements.body.value.trim()
    if (!body) {
      e.preventDefault()
      e.stopPropagation()
      return
    }
    // A retry of the same text that was never confirmed keeps its client_id: stored once.
    if (!form.elements.client_id.value || form.dataset.unconfirmed !== body) {
      form.elements.client_id.value = uuid()
    }
    form.dataset.unconfirmed = body
    var conversationId = parseInt(form.dataset.conversationId, 10)
    var frame = { type: 'chat.send', conversation_id: conversationId, body: body, client_id: form.elements.client_id.value }
    if (isOpen && send(frame)) {
      e.preventDefault()
      e.stopPropagation() // keeps htmx from posting it too
      pending[frame.client_id] = frame
      addGhost(conversationId, frame.client_id, body)
      form.elements.body.value = ''
      form.elements.client_id.value = ''
      delete form.dataset.unconfirmed
    }
  }, true)

  document.addEventListener('htmx:afterRequest', function (e) {
    var form = e.detail.elt
    if (!form.matches || !form.matches('form[data-chat-composer]')) return
    if (e.detail.successful && e.detail.target && e.detail.target.id.indexOf('messages-') === 0) {
      form.elements.body.value = ''
      form.elements.client_id.value = ''
      delete form.dataset.unconfirmed
      scrollToBottom(e.detail.target)
    }
  })

  document.addEventListener('keydown', function (e) {
    var area = e.target
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return
    if (!area.matches || !area.matches('form[data-chat-composer] textarea')) return
    e.preventDefault()
    area.form.requestSubmit()
  })

  document.addEventListener('input', function (e) {
    var area = e.target
    if (!area.matches || !area.matches('form[data-chat-composer] textarea') || !area.value.trim()) return
    var conversationId = parseInt(area.form.dataset.conversationId, 10)
    var now = Date.now()
    if (now - (lastTypingSent[conversationId] || 0) < TYPING_EVERY_MS) return
    if (send({ type: 'chat.typing', conversation_id: conversationId })) lastTypingSent[conversationId] = now
  })

  // --- typing indicators, read state, scrolling

  function armTypingIndicators () {
    document.querySelectorAll('[data-typing][data-active]:not([data-armed])').forEach(function (elt) {
      elt.setAttribute('data-armed', '')
      var id = elt.id
      clearTimeout(typingTimers[id])
      typingTimers[id] = setTimeout(function () {
        var current = document.getElementById(id)
        if (current) {
          current.textContent = ''
          current.removeAttribute('data-active')
        }
      }, TYPING_SHOWN_MS)
    })
  }

  function markReadSoon () {
    if (!openId || document.visibilityState !== 'visible') return
    // The open conversation's unread count; the total when its row is not on the page.
    var unread = document.getElementById('conversation-unread-' + openId) ||
      document.getElementById('chat-unread-badge')
    if (!unread || !unread.textContent.trim()) return
    clearTimeout(readTimer)
    readTimer = setTimeout(function () {
      if (send({ type: 'chat.read', conversation_id: parseInt(openId, 10) })) return
      // No socket (a phone suspends it in the background): read over HTTP; the socket's
      // resume brings the new counts when it is back.
      var url = openPane && openPane.dataset.readUrl
      if (url) htmx.ajax('POST', url, { source: openPane, swap: 'none' })
    }, 200)
  }
  document.addEventListener('visibilitychange', markReadSoon)
  window.addEventListener('pageshow', markReadSoon) // back from the browser's page cache

  function markCurrentRow () {
    if (!openId) return
    var link = document.querySelector('#conversation-' + openId + ' .conversation-link')
    if (link) link.setAttribute('aria-current', 'page')
  }

  function openLog () { return openId ? document.getElementById('messages-' + openId) : null }

  function scrollToBottom (log) { log.scrollTop = log.scrollHeight }

  // Older pages arrive above what the bunny reads: keep her place.
  document.addEventListener('htmx:beforeSwap', function (e) {
    var target = e.detail.target
    if (!target || !target.classList || !target.classList.contains('older-messages')) return
    var log = target.parentElement
    var fromBottom = log.scrollHeight - log.scrollTop
    setTimeout(function () { log.scrollTop = log.scrollHeight - fromBottom }, 0)
  })

  var initialLog = openLog()
  if (initialLog) scrollToBottom(initialLog)
})()
